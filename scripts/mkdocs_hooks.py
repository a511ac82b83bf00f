"""MkDocs hooks (mkdocs.yml): the changelog as a page, and links to repository files.

The site is built from docs/; its pages also link to files beside it (README.md,
infra/README.md, connectors/...), which MkDocs cannot resolve and, under --strict, would
refuse. Such a link is checked here instead (the file must exist, and a #anchor into a
Markdown file must name one of its headings: a warning otherwise, which --strict turns
into a failure) and shown as the file's repository path. CHANGELOG.md (at the root, where
Keep a Changelog puts it) becomes the page changelog.md.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Any

from markdown.extensions.toc import slugify
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.plugins.repo_links")
ROOT = Path(__file__).resolve().parent.parent
# [text](target) outside code spans; images and external or in-page links are left alone.
_LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\((?![a-z][a-z0-9+.-]*:|#)([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~)")


@functools.cache
def _anchors(path: Path) -> frozenset[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", path.read_text(encoding="utf-8"), re.MULTILINE)
    return frozenset(slugify(heading.replace("`", ""), "-") for heading in headings)


def _rewrite(markdown: str, page_dir: Path, docs: Path, source: str) -> str:
    def replace(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        path, _, anchor = target.partition("#")
        resolved = (page_dir / path).resolve()
        if resolved.is_relative_to(docs):
            return match.group(0)  # MkDocs checks links between pages itself
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            log.warning("%s links to %s, which is not a file of the repository", source, target)
            return match.group(0)
        if anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            log.warning("%s links to %s, but %s has no heading with that anchor", source, target, path)
        shown = resolved.relative_to(ROOT).as_posix() + ("/" if resolved.is_dir() else "")
        shown += f"#{anchor}" if anchor else ""
        if text.strip("`") in (shown, shown.rstrip("/")):
            return f"`{shown}`"
        return f"{text} (`{shown}`)"

    out, fenced = [], False
    for line in markdown.splitlines(keepends=True):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
        out.append(line if fenced else _LINK.sub(replace, line))
    return "".join(out)


def on_files(files: Files, config: Any) -> Files:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").replace("](docs/", "](")
    files.append(File.generated(config, "changelog.md", content=changelog))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    docs = Path(config["docs_dir"]).resolve()
    if page.file.generated_by:
        return markdown
    return _rewrite(markdown, (docs / page.file.src_path).parent, docs, page.file.src_path)
