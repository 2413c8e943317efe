"""Every document the repository cites by name is in the repository, with the section cited.

A citation is a file name ending in the markdown suffix, with or without a directory, in any tracked
text file (code, docstrings, comments, README, bench/RESULTS.md, the spec, setup.cfg, dev, etc/...);
URLs are not citations. A bare name resolves beside the citing file, at the repository's root or under
docs/ (the first found); a name with a directory from the root or from the citing file; never outside
the repository. A section cited right after the name must be a heading of that document: `§4`,
`section 4`, `sections 4-5`, `§4-§5`, `sections 4 and 7` need `## 4. ...` headings, and a name followed
by `, "Title"` a heading containing Title.
Pure: no package import, no fixture beyond pytest's tmp_path.
"""
import os
import re
import subprocess
from typing import Iterator, List, Optional, Set, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUFFIX = ".md"
SKIPPED_DIRS = {".git", ".venv", ".venv39", ".pytest_cache", "__pycache__", "build", "dist", "node_modules"}

# A name ending in .md, not inside a longer word, path or URL ("https://x/y.md" is no citation).
CITATION = re.compile(r"(?<![\w./:-])((?:[\w.-]+/)*[\w-]+\.md)\b")
SECTIONS = re.compile(r"\A,?[ \t]*\n?[ \t#*]*(?:§|sections?[ \t]+)(\d+)((?:[ \t]*(?:-|–|,|and)\s*(?:§|sections?[ \t]+)?\d+)*)")
TITLE = re.compile(r'\A,[ \t]*"([^"\n]+)"')
NUMBER = re.compile(r"(-|–|,|and)\s*(?:§|sections?[ \t]+)?(\d+)")


def repository_files(root: str) -> List[str]:
    """The repository's files, relative to root: git's tracked and new (not ignored) ones, else a walk."""
    names = []
    if os.path.exists(os.path.join(root, ".git")):
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root,
                                capture_output=True, check=True, timeout=60).stdout.decode("utf-8", "replace")
        names = [name for name in listed.split("\0") if name]
    else:
        for top, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
            names += [os.path.relpath(os.path.join(top, f), root) for f in files]
    return sorted(name for name in names if os.path.isfile(os.path.join(root, name)))


def read_text(path: str) -> Optional[str]:
    """The file's text, or None for a binary or very large file."""
    if os.path.getsize(path) > 4 * 1024 * 1024:
        return None
    with open(path, "rb") as handle:
        data = handle.read()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def resolve(root: str, citing: str, name: str) -> Optional[str]:
    """The cited file's path relative to root, or None when the repository does not hold it."""
    here = os.path.dirname(citing)
    if "/" in name:
        candidates = [name, os.path.join(here, name)]
    else:
        candidates = [os.path.join(here, name), name, os.path.join("docs", name)]
    for candidate in candidates:
        relative = os.path.normpath(candidate)
        if relative.startswith(os.pardir) or os.path.isabs(relative):
            continue                                    # outside the repository: not followable from it
        if os.path.isfile(os.path.join(root, relative)):
            return relative
    return None


def cited_sections(after: str) -> Tuple[Set[int], Optional[str]]:
    """Section numbers and a quoted title cited right after a name (`§4-§5`, `sections 4 and 7`, `, "Cost"`)."""
    numbers = set()
    match = SECTIONS.match(after)
    if match:
        previous = int(match.group(1))
        numbers.add(previous)
        for joiner, number in NUMBER.findall(match.group(2)):
            current = int(number)
            if joiner in ("-", "–") and current > previous:
                numbers.update(range(previous, current + 1))
            numbers.add(current)
            previous = current
    title = TITLE.match(after)
    return numbers, title.group(1) if title else None


def headings(text: str) -> Tuple[Set[int], List[str]]:
    """A markdown document's numbered sections (`## 4. ...`) and its heading lines."""
    lines = [line for line in text.splitlines() if line.startswith("#")]
    numbers = {int(m.group(1)) for m in (re.match(r"#+\s+(\d+)\.(?:\s|$)", line) for line in lines) if m}
    return numbers, lines


def citations(text: str) -> Iterator[Tuple[int, str, str]]:
    """(line number, name, the text right after it) for each citation in text."""
    for match in CITATION.finditer(text):
        yield text.count("\n", 0, match.start()) + 1, match.group(1), text[match.end():match.end() + 200]


def problems(root: str) -> List[str]:
    """One line per citation the repository cannot answer: `file:line: name: what is missing`."""
    found = []
    documents = {}
    for citing in repository_files(root):
        text = read_text(os.path.join(root, citing))
        if text is None:
            continue
        for line, name, after in citations(text):
            target = resolve(root, citing, name)
            if target is None:
                found.append("%s:%d: %s: no such document in the repository (docs/ holds the notes)"
                             % (citing, line, name))
                continue
            numbers, title = cited_sections(after)
            if not numbers and title is None:
                continue
            if target not in documents:
                documents[target] = headings(read_text(os.path.join(root, target)) or "")
            present, lines = documents[target]
            for number in sorted(numbers - present):
                found.append("%s:%d: %s: cites section %d, which %s has no `## %d.` heading for"
                             % (citing, line, name, number, target, number))
            if title is not None and not any(title.lower() in heading.lower() for heading in lines):
                found.append('%s:%d: %s: cites "%s", which is no heading of %s' % (citing, line, name, title, target))
    return found


def test_every_cited_document_and_section_exists_in_the_repository():
    missing = problems(ROOT)
    assert not missing, "documents cited but not in the repository:\n" + "\n".join(missing)


def _write(root, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_check_names_missing_documents_sections_and_paths_outside(tmp_path):
    notes, other = "notes" + SUFFIX, "other" + SUFFIX
    _write(tmp_path, "docs/" + notes, "# Notes\n\n## 1. One\n\n## 2. Two\n\n### 2.3 Detail\n\n## Cost: per request\n")
    _write(tmp_path, "README" + SUFFIX, "See docs/%s §2 and %s, \"Cost\".\n" % (notes, notes))
    _write(tmp_path, "pkg/mod.py", '"""Facts (%s sections 1-2, section 3; %s).\n\nAlso %s §1-§3 and\n'
                                   '../shared/docs/%s and https://example.com/x/%s."""\n'
                                   % (notes, other, notes, notes, other))
    _write(tmp_path, "pkg/local" + SUFFIX, "beside mod.py, cited as %s, \"Missing\"\n" % ("local" + SUFFIX))
    _write(tmp_path, "pkg/cites_local.py", "# local%s §1\n" % SUFFIX)
    found = problems(str(tmp_path))
    assert [line.split(": ", 1)[1] for line in found if line.startswith("pkg/mod.py")] == [
        "%s: cites section 3, which docs/%s has no `## 3.` heading for" % (notes, notes),
        "%s: no such document in the repository (docs/ holds the notes)" % other,
        "%s: cites section 3, which docs/%s has no `## 3.` heading for" % (notes, notes),
        "../shared/docs/%s: no such document in the repository (docs/ holds the notes)" % notes,
    ]
    assert [line for line in found if not line.startswith("pkg/mod.py")] == [
        'pkg/cites_local.py:1: local%s: cites section 1, which pkg/local%s has no `## 1.` heading for'
        % (SUFFIX, SUFFIX),
        'pkg/local%s:1: local%s: cites "Missing", which is no heading of pkg/local%s' % (SUFFIX, SUFFIX, SUFFIX),
    ]
    assert cited_sections(" §4-§6, steps 1-2") == ({4, 5, 6}, None)
    assert cited_sections(" sections 4 and 7)") == ({4, 7}, None)
    assert cited_sections(', "Pitfalls"):') == (set(), "Pitfalls")
    assert cited_sections(" (see below)") == (set(), None)
