"""Newer English text (issue 30): documentation prose from pinned Debian packages.

    /usr/bin/python3 training/modern.py fetch          # apt-get download pkg=version, check sha256, dpkg-deb -x
    /usr/bin/python3 training/modern.py stats          # documents / tokens per source (the README table)
    /usr/bin/python3 training/modern.py eval           # write the held-out set to training/eval-modern/
    /usr/bin/python3 training/prepare.py --out training/data2 --extra modern

The packages are downloaded and unpacked under --work (default $NEXTWORD_MODERN
or /tmp/nextword-modern); nothing is installed. Each source is either "train"
(read by prepare.py through documents()) or "eval": whole packages reserved for
the held-out modern evaluation set, so no page of them is ever trained on.

Cleaning, the same for every source: only running prose is kept. Text is cut
into blocks at block-level elements (p, li, dd, div, headings...); code blocks,
tables, navigation, scripts and metadata are skipped whole. Inline code
(code/tt/kbd/var, Mallard cmd/sys/file, Perl C<>/F<>) is kept only when it is
one to three plain words (True, SELECT, git); otherwise it leaves a hole, and a
sentence with a hole is dropped rather than read with a gap ("the  option of .").
So are sentences that start in lower case (they have lost their subject, a
parameter name) and change credits ("(Contributed by X in bpo-1234.)"). A block
is kept when it still has >= 5 words, ends like a sentence and is mostly
letters. A source with `share` < 100 keeps that fixed percentage of its pages
(keep_page). Blocks are deduplicated
across all sources in a fixed order (first occurrence wins), which removes the
repeated boilerplate of help pages. One document per page (per pod file; per
WordNet example sentence). doc_ids are "modern/<package>/<path>" and decide the
split through prepare.split_of like every other corpus.
"""
import argparse
import collections
import dataclasses
import glob
import hashlib
import html
import html.parser
import os
import re
import sys

import debs
import tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WORK = os.environ.get("NEXTWORD_MODERN", "/tmp/nextword-modern")
EVAL_DIR = os.path.join(HERE, "eval-modern")

HOLE = "\x00"  # stands for dropped inline code until its sentence is removed


@dataclasses.dataclass(frozen=True)
class Source:
    package: str
    version: str
    sha256: str
    licence: str
    role: str  # "train" or "eval"
    kind: str  # reader: html, mallard, pod, wordnet
    root: str  # folder inside the package
    pattern: str  # glob under root
    skip: tuple = ()  # regexes on the path relative to root
    share: int = 100  # percent of the pages kept (chosen by keep_page), to cap a large, narrow source


# Debian bookworm (main), checked 2026-12-04. Order matters: deduplication keeps
# the first occurrence, so eval sources come first and a block that appears in
# both an eval and a train package is never trained on.
SOURCES = [
    Source("gnome-user-docs", "43.0-2",
           "0d635a840747958ca84da778b40d341f1155603851f922c9a171f5a181d6a39f",
           "CC-BY-SA-3.0", "eval", "mallard", "usr/share/help/C", "*/*.page", (r"^(?!gnome-help/|system-admin-guide/)",)),
    Source("debian-handbook", "11.20220922",
           "3d5dbeac1f1afc9c094eab9d0f701f6ecff99c4927d5a4794cf6c85678134faa",
           "GPL-2.0+ or CC-BY-SA-3.0", "eval", "html", "usr/share/doc/debian-handbook/html/en-US", "*.html",
           (r"^index\.html$", r"^ix01", r"^pr\d", r"^Common_Content")),
    Source("python3.11-doc", "3.11.2-6+deb12u9",
           "5b3594189d6ef9a6963ce0347fd307a1cc67620ad697e144db366070e2e146be",
           "PSF-2.0 (Python License)", "train", "html", "usr/share/doc/python3.11/html", "**/*.html",
           (r"^_", r"^genindex", r"^py-modindex", r"^search\.html$", r"^contents\.html$", r"^license\.html$")),
    Source("postgresql-doc-15", "15.20-0+deb12u1",
           "4c44bf2c599f208b3f46454a6cf7a72e25ec46ff74d37b59dd31ad76b00eebb7",
           "PostgreSQL (BSD-like)", "train", "html", "usr/share/doc/postgresql-doc-15/html", "*.html",
           (r"^bookindex", r"^release-", r"^index\.html$")),
    Source("perl-doc", "5.36.0-7+deb12u4",
           "f4269cff4576d6f02a6756df842988e58451c7e945b08517dd235531b24e48f8",
           "GPL-1+ or Artistic", "train", "pod", "usr/share/perl/5.36.0/pod", "*.pod",
           (r"delta\.pod$", r"^perltoc", r"^perlapi", r"^perlintern", r"^perlmodlib", r"^perlartistic",
            r"^perlgpl", r"^perlhist", r"^perlperf", r"^perluniprops")),
    Source("libreoffice-help-en-us", "4:7.4.7-1+deb12u14",
           "8faa840285734d6cfe1ed25537b48f07e74bd6412e3917bf8e5f8a653f7b3712",
           "MPL-2.0", "train", "html", "usr/share/libreoffice/help/en-US", "**/*.html", ()),
    Source("nodejs-doc", "18.20.4+dfsg-1~deb12u3",
           "d2fbd4f3aecccea9d901a03842ef8380379e0d33010a48af5e797ed68ae874ce",
           "Expat (MIT)", "train", "html", "usr/share/doc/nodejs/api", "*.html",
           (r"^all\.html$", r"^index\.html$", r"^deprecations\.html$")),
    Source("git-doc", "1:2.39.5-0+deb12u3",
           "3c89668a11053a6bafade3de1f611f4613db31e082af63f43d8c5b69ad8795ec",
           "GPL-2 (parts GPL-2+)", "train", "html", "usr/share/doc/git-doc", "**/*.html",
           (r"^RelNotes", r"^howto-index",)),
    Source("linux-doc-6.1", "6.1.192-3",
           "f18dfe28dcab7bdbf9185be16b9521f5841277a6a96c374a6683a648d5d5fa4f",
           "GPL-2 (files variously GPL-2 / BSD-2-Clause)", "train", "html", "usr/share/doc/linux-doc-6.1/html",
           "**/*.html", (r"^_", r"^translations/", r"^genindex", r"^search\.html$", r"^index\.html$"), 40),
    Source("wordnet-base", "1:3.0-37",
           "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
           "WordNet 3.0 licence (Princeton, permissive)", "train", "wordnet", "usr/share/wordnet", "data.*",
           (r"\.(?!noun$|verb$|adj$|adv$)\w+$",)),
]


def keep_page(doc_id: str, share: int) -> bool:
    """Deterministic page sample, independent of the split (prepare.split_of hashes doc_id alone)."""
    return share >= 100 or int(hashlib.sha1(f"keep:{doc_id}".encode("utf-8")).hexdigest()[:8], 16) % 100 < share


def deb_name(s: Source) -> str:
    # apt-get download writes the epoch's ':' as %3a.
    return f"{s.package}_{s.version.replace(':', '%3a')}_all.deb"


def fetch(work: str) -> None:
    for s in SOURCES:
        debs.fetch(work, s.package, s.version, deb_name(s), s.sha256)


# ---------------------------------------------------------------------------
# Markup -> blocks of text (HOLE where inline code was)

_SKIP = {"script", "style", "pre", "table", "nav", "header", "footer", "aside", "head", "title",
         "comment", "info", "screen", "synopsis", "media", "figure", "svg", "math", "dt", "button", "label",
         "select", "textarea", "form", "sup"}
_SKIP_CLASS = re.compile(r"\b(related|sphinxsidebar|footer|navheader|navfooter|docnav|toc|breadcrumb|"
                         r"highlight|literal-block|programlisting|screen|synopsis|api_metadata|api_stability|"
                         r"signature|header|mark|legacy|added|changed|deprecated|versionmodified|"
                         r"admonition-title|titlepage|indexterm|footnotes?)\b")
_HOLES = {"code", "tt", "kbd", "samp", "var", "cmd", "sys", "file", "input", "output"}
_HOLE_CLASS = re.compile(r"\b(command|filename|literal|replaceable|userinput|computeroutput|option|"
                         r"varname|envar|function|parameter|type|structname|structfield|property|"
                         r"systemitem|package|application-code|pre)\b")
_PLAIN_CODE = re.compile(r"^(?:[A-Z]?[a-z]+|[A-Z]{2,})(?: (?:[A-Z]?[a-z]+|[A-Z]{2,})){0,2}$")
_BLOCKS = {"p", "div", "li", "dd", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
           "section", "br", "hr", "tr", "td", "th", "item", "steps", "list", "terms", "tree", "note",
           "caption", "body", "page", "tbody", "thead", "example", "center"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "base", "area", "col", "embed", "source", "wbr"}


class _Blocks(html.parser.HTMLParser):
    """Splits a page into text blocks; `mallard` treats <link xref/> as a hole (its text is generated)."""

    def __init__(self, mallard: bool):
        super().__init__(convert_charrefs=True)
        self.mallard = mallard
        self.blocks: list[str] = []
        self.cur: list[str] = []
        self.skip = 0  # depth inside a skipped element
        self.hole = 0  # depth inside inline code
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, skipped, hole)
        self.keyseq = 0
        self.code: list[str] = []  # text of the inline code being read

    def _flush(self):
        text = "".join(self.cur)
        if text.strip():
            self.blocks.append(text)
        self.cur = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class") or ""
        if not self.mallard and tag in _VOID:
            if tag == "br":
                self.cur.append(" ")
            return
        if self.mallard and tag == "keyseq":
            self.keyseq = 1
        elif self.mallard and tag == "key" and self.keyseq:
            if self.keyseq > 1 and not self.skip:
                self.cur.append("+")
            self.keyseq += 1
        skipped = tag in _SKIP or bool(_SKIP_CLASS.search(cls)) or (self.mallard and tag == "code"
                                                                     and a.get("mime") is not None)
        hole = tag in _HOLES or (tag in ("span", "em", "a") and bool(_HOLE_CLASS.search(cls)))
        if tag in _BLOCKS and not self.hole:
            self._flush()
        if hole and not self.skip and not self.hole:
            self.code = []
        self.stack.append((tag, skipped, hole))
        self.skip += skipped
        self.hole += hole

    def handle_startendtag(self, tag, attrs):
        if self.mallard and tag == "link" and not self.skip:
            self.cur.append(HOLE)  # <link xref="page"/>: the page title is filled in at build time
        elif tag == "br":
            self.cur.append(" ")
        elif tag in _BLOCKS:
            self._flush()

    def handle_endtag(self, tag):
        if not any(t == tag for t, _, _ in self.stack):
            return  # stray end tag
        while self.stack:
            t, skipped, hole = self.stack.pop()
            self.skip -= skipped
            self.hole -= hole
            if hole and not self.hole and not self.skip:
                # Inline code that is one to three plain words (True, SELECT, git) reads as prose.
                code = " ".join("".join(self.code).split())
                self.cur.append(code if _PLAIN_CODE.match(code) else HOLE)
            if t == tag:
                break
        if self.mallard and tag == "keyseq":
            self.keyseq = 0
        if tag in _BLOCKS and not self.hole:
            self._flush()

    def handle_data(self, data):
        if self.hole and not self.skip:
            self.code.append(data)
        if self.skip or self.hole:
            return
        self.cur.append(data)

    def close(self):
        super().close()
        self._flush()


def markup_blocks(text: str, mallard: bool) -> list[str]:
    p = _Blocks(mallard)
    p.feed(text)
    p.close()
    return p.blocks


# Perl POD: prose paragraphs are the ones that neither start with whitespace
# (verbatim code) nor with '=' (commands); =begin/=end and =for regions are skipped.
_POD_CODE = re.compile(r"([A-Z])<(?:<+\s(.*?)\s>+|([^<>]*))>", re.S)


def _pod_inline(text: str) -> str:
    def repl(m):
        code, body = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
        if code == "C" and _PLAIN_CODE.match(" ".join(body.split())):
            return body
        if code in "CF":
            return HOLE
        if code == "L":
            return body.split("|", 1)[0] if "|" in body else HOLE
        if code == "E":
            return {"lt": "<", "gt": ">", "verbar": "|", "sol": "/"}.get(body, "")
        if code in "XZ":
            return ""
        return body  # B, I, S
    for _ in range(5):  # innermost first, nested codes
        new = _POD_CODE.sub(repl, text)
        if new == text:
            break
        text = new
    return text


def pod_blocks(text: str) -> list[str]:
    out, region = [], None
    for para in re.split(r"\n[ \t]*\n", text):
        if not para.strip():
            continue
        if region:
            if para.startswith(f"=end {region}"):
                region = None
            continue
        if para.startswith("=begin"):
            region = para.split()[1] if len(para.split()) > 1 else ""
            continue
        if para.startswith("=") or para[0] in " \t":
            continue
        out.append(_pod_inline(para))
    return out


# WordNet data files: "offset lex ... | gloss; "example one"; "example two"".
_WN_EXAMPLE = re.compile(r'"([^"]+)"')


def wordnet_blocks(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        if line.startswith("  ") or "| " not in line:
            continue  # licence header
        out.extend(m.strip() for m in _WN_EXAMPLE.findall(line.split("| ", 1)[1]))
    return out


# ---------------------------------------------------------------------------
# Blocks -> prose

_SENT = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_ENDS = re.compile(r"[.!?:][\"')\]]?$")
# Python's "What's new" pages credit every change: "(Contributed by X in bpo-1234.)".
_CREDIT = re.compile(r"\s*\([^()]*\b(?:[Cc]ontributed|[Pp]atch(?:es)? by|[Ww]ritten by|bpo-\d|gh-\d)[^()]*\)\.?")
_TRACKER = re.compile(r"\b(?:bpo|gh)-\d")
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


def clean_block(block: str, need_end: bool = True) -> str | None:
    text = " ".join(html.unescape(block).split())
    text = text.replace("\u00b6", "").replace("\u2014", " \u2014 ").strip()
    text = " ".join(_CREDIT.sub("", text).split())
    if _TRACKER.search(text):
        text = " ".join(s for s in _SENT.split(text) if not _TRACKER.search(s))
    if HOLE in text:
        text = " ".join(s for s in _SENT.split(text) if HOLE not in s)
    # A sentence that starts in lower case has usually lost its subject (a parameter name, a term).
    text = " ".join(s for s in _SENT.split(text) if not s[:1].islower())
    if not text:
        return None
    words = text.split()
    if len(words) < 5 or (need_end and not _ENDS.search(text)):
        return None
    letters = sum(len(w) for w in _WORD.findall(text))
    if letters < 0.75 * sum(1 for c in text if not c.isspace()):
        return None  # identifiers, paths, numbers, punctuation-heavy lines
    if any(ord(c) > 0x2fff for c in text):
        return None
    return text


def source_documents(s: Source, work: str, seen: set):
    """(doc_id, text) for one source; `seen` holds block hashes across sources (dedup)."""
    root = os.path.join(work, "x", s.package, s.root)
    if not os.path.isdir(root):
        sys.exit(f"{root} missing: run `/usr/bin/python3 training/modern.py fetch --work {work}` first")
    paths = sorted(p for p in glob.glob(os.path.join(root, s.pattern), recursive=True) if os.path.isfile(p))
    for path in paths:
        rel = os.path.relpath(path, root)
        if any(re.search(r, rel) for r in s.skip) or not keep_page(f"modern/{s.package}/{rel}", s.share):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            raw = f.read()
        if s.kind == "wordnet":
            for i, block in enumerate(wordnet_blocks(raw)):
                text = clean_block(block[0].upper() + block[1:] + ("" if _ENDS.search(block) else "."))
                if text and _dedup(seen, text):
                    yield f"modern/{s.package}/{rel}/{i}", text
            continue
        blocks = pod_blocks(raw) if s.kind == "pod" else markup_blocks(raw, s.kind == "mallard")
        kept = [t for t in (clean_block(b) for b in blocks) if t and _dedup(seen, t)]
        if kept:
            yield f"modern/{s.package}/{rel}", "\n".join(kept)


def _dedup(seen: set, text: str) -> bool:
    key = hashlib.sha1(" ".join(tokenizer.tokenize(text)).encode("utf-8")).digest()[:12]
    if key in seen:
        return False
    seen.add(key)
    return True


def all_documents(work: str = DEFAULT_WORK):
    """(source, doc_id, text) for every source in SOURCES order (dedup needs the whole order)."""
    seen: set = set()
    for s in SOURCES:
        for doc_id, text in source_documents(s, work, seen):
            yield s, doc_id, text


def documents(work: str = DEFAULT_WORK):
    """Training sources only, as prepare.py reads corpora: (corpus, doc_id, text)."""
    for s, doc_id, text in all_documents(work):
        if s.role == "train":
            yield f"modern/{s.package}", doc_id, text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["fetch", "stats", "eval", "sample"])
    ap.add_argument("--work", default=DEFAULT_WORK)
    ap.add_argument("--out", default=EVAL_DIR, help="eval: the folder for test.txt")
    ap.add_argument("--source", help="sample: a package name")
    args = ap.parse_args()
    if args.command == "fetch":
        fetch(args.work)
        return
    if args.command == "sample":
        for s, doc_id, text in all_documents(args.work):
            if s.package == args.source:
                print(f"### {doc_id}\n{text}\n")
        return
    stats = collections.defaultdict(collections.Counter)
    eval_docs = []
    for s, doc_id, text in all_documents(args.work):
        st = stats[s.package]
        st["documents"] += 1
        st["words"] += len(text.split())
        st["tokens"] += len(tokenizer.tokenize(text))
        if s.role == "eval":
            eval_docs.append((doc_id, " ".join(text.split())))
    for s in SOURCES:
        st = stats[s.package]
        print(f"| `{s.package}` | {s.version} | {s.licence} | {s.role} | {st['documents']:,} | "
              f"{st['words']:,} | {st['tokens']:,} |")
    if args.command == "eval":
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "test.txt"), "w", encoding="utf-8") as f:
            f.writelines(text + "\n" for _, text in eval_docs)
        with open(os.path.join(args.out, "doc_ids.txt"), "w", encoding="utf-8") as f:
            f.writelines(doc_id + "\n" for doc_id, _ in eval_docs)


if __name__ == "__main__":
    main()
