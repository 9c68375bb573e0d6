"""Zip archives measured before anything is decompressed: the one zip-bomb check of the platform.

DOCX and XLSX files are zip archives of XML. A 1.1 MB workbook can hold a sharedStrings.xml that
inflates to 1 GB, which a parser then holds in memory. The central directory states every entry's
sizes without inflating anything, and those sizes bound what can be read: Python's zipfile stops
an entry at its declared size (and then fails its CRC), so an entry cannot inflate beyond what the
directory says. Media's document check and the spreadsheet reader (common/tables.py) both measure
here and refuse, each with its own limits and its own words.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class ZipLimits:
    max_uncompressed: int  # bytes of all entries together, inflated
    max_ratio: float  # inflated / compressed, checked once the archive inflates past min_ratio_bytes
    min_ratio_bytes: int  # small archives compress however they like
    max_entries: int


@dataclass(frozen=True)
class ZipSize:
    entries: int
    uncompressed: int
    compressed: int

    @property
    def ratio(self) -> float:
        return self.uncompressed / max(self.compressed, 1)

    def exceeds(self, limits: ZipLimits) -> bool:
        return (self.uncompressed > limits.max_uncompressed or self.entries > limits.max_entries
                or (self.uncompressed > limits.min_ratio_bytes and self.ratio > limits.max_ratio))


def measure_zip(zf: zipfile.ZipFile) -> ZipSize:
    """What the archive would inflate to, from its central directory alone."""
    infos = zf.infolist()
    return ZipSize(len(infos), sum(i.file_size for i in infos), sum(i.compress_size for i in infos))
