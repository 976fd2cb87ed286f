"""Reading XML safely: no DTDs, so no entity expansion (billion laughs) and no external
entities (XXE); each element's line is kept for error messages."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from corridor.formats.records import UnreadableFile


class _LineBuilder(TreeBuilder):
    def __init__(self, lines: dict[int, int]) -> None:
        super().__init__()
        self.lines = lines
        self.parser: Any = None

    def start(self, tag: Any, attrs: Any) -> Element:
        element = super().start(tag, attrs)
        self.lines[id(element)] = int(self.parser.parser.CurrentLineNumber)
        return element


class XmlDocument:
    """A parsed document and the line each element starts on."""

    def __init__(self, root: Element, lines: dict[int, int]) -> None:
        self.root = root
        self._lines = lines

    def line(self, element: Element) -> int | None:
        return self._lines.get(id(element))


def parse_xml(data: bytes) -> XmlDocument:
    """Parse, refusing any DTD; raises UnreadableFile with the reason and line."""
    lines: dict[int, int] = {}
    builder = _LineBuilder(lines)
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    builder.parser = parser
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as exc:
        raise UnreadableFile(
            f"XML with a DTD or entities is refused ({type(exc).__name__})"
        ) from exc
    except ParseError as exc:
        raise UnreadableFile(f"broken XML: {exc}") from exc
    return XmlDocument(root, lines)
