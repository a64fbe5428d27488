"""Run hub services with nameko: the registry of services and the process entry point."""
import importlib
import logging
import signal

SERVICES = {
    "intake": "intake.service:IntakeService",
    "gateway": "hub.gateway:GatewayService",
}
# services with a database of their own, in the order they are set up
DATA_SERVICES = ("intake",)


def service_class(name):
    module, cls = SERVICES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def run(names, settings):
    """Run the named services in this process until SIGTERM or SIGINT."""
    import eventlet
    eventlet.monkey_patch()
    from nameko.runners import ServiceRunner

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runners = []
    for name in names:
        runner = ServiceRunner(settings.nameko_config(name))
        runner.add_service(service_class(name))
        runner.start()
        runners.append(runner)
        logging.getLogger("hub").info("%s listening on %s", name, settings.service_url(name))

    stopping = eventlet.event.Event()

    def stop(*_):
        if not stopping.ready():
            stopping.send(True)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopping.wait()
    for runner in runners:
        runner.stop()
