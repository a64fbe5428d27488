"""The operators' tooling on top of the services: the `hub` command, subscribers, resend,
least privilege, backups, the demo data and the deployment files rendered from the manifests."""
