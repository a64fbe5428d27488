"""Spreadsheet imports (`hub import KIND FILE`): the framework every service's import uses.

A county's existing spreadsheet (CSV in UTF-8, UTF-16 or GB18030/GBK, or XLSX; Chinese or
English headers) goes through the API's own checks and use case, row by row, with a progress
bar; the whole file is written in one transaction, or nothing of it. Rejected rows are reported
by line, field and reason, never with their values. A service declares an import with an
Importer subclass (see hub.sheets.importing); the modules here are, in the order a file meets
them: cells (a cell's value), reading (the file and its headers), checking (rows -> API bodies,
in a reader process), writing (one transaction), outcome (the summary and the report).
"""
from hub.sheets.cells import text, to_date, to_int, word_list, words, yes_no
from hub.sheets.importing import Importer
from hub.sheets.outcome import ImportSummary, Problem, RejectedRow
from hub.sheets.reading import Column, SheetError, header_key
from hub.sheets.writing import ImportStopped, one_at_a_time

__all__ = ["Column", "ImportStopped", "ImportSummary", "Importer", "Problem", "RejectedRow",
           "SheetError", "header_key", "one_at_a_time", "text", "to_date", "to_int",
           "word_list", "words", "yes_no"]
