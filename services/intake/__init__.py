"""Intake: the client registry (服务对象登记) of a county hub."""
