"""Run hub services with nameko in this process, until SIGTERM or SIGINT (`hub serve`)."""
import gc
import logging
import signal
import sys

from hub.manifest import manifest

STOP_GRACE_SECONDS = 10


def _watch(runner, died):
    """Wait on the runner's containers; note it in `died` if one dies."""
    try:
        runner.wait()
    except Exception:       # nameko has logged why
        died.append(runner)


def run(names, settings):
    """Run the named services in this process until SIGTERM or SIGINT."""
    import eventlet
    eventlet.monkey_patch()
    from nameko.runners import ServiceRunner

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # nameko logs every 4xx a handler raises with a traceback; the access log already shows them
    logging.getLogger("nameko.containers").setLevel(logging.ERROR)
    if not settings.access_log:
        logging.getLogger("nameko.web.server").setLevel(logging.WARNING)
    runners = []
    for name in names:
        runner = ServiceRunner(settings.nameko_config(name))
        runner.add_service(manifest(name).service_class())
        runner.start()
        runners.append(runner)
        logging.getLogger("hub").info("%s listening on %s", name, settings.service_url(name))

    # what start-up made lives as long as the process: out of the collector's way; and collect
    # the young generation less often (a request makes hundreds of short-lived objects)
    gc.freeze()
    if gc.get_threshold()[0] < 20_000:      # (the province's ingester may have set more)
        gc.set_threshold(20_000, 20, 100)
    stop_requested, died = [], []
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop_requested.append(True))
    for runner in runners:
        eventlet.spawn(_watch, runner, died)
    while not stop_requested and not died:  # a signal does not wake the eventlet hub: look
        eventlet.sleep(0.5)                 # twice a second
    if died:
        # a service container that died leaves a process that answers nothing: exit, so that
        # systemd, Kubernetes or `hub start`'s supervisor starts the service again
        logging.getLogger("hub").critical("a service died; exiting to be restarted")
        for runner in runners:
            runner.kill()
        sys.exit(70)
    for runner in runners:
        try:
            with eventlet.Timeout(STOP_GRACE_SECONDS):
                runner.stop()           # finish the work in hand
        except eventlet.Timeout:
            logging.getLogger("hub").warning("not stopped after %ss: killing", STOP_GRACE_SECONDS)
            runner.kill()
