"""The hub's shared contract: every service's event types and the vocabulary they share.

Every service depends on this package and on no other service: what one service needs of
another arrives as an event whose schema is here (contracts.events.*), described in the words
defined here (client categories and their age rules, place codes, ID numbers, phone numbers).
"""
