#!/usr/bin/python3
"""Builds the static PEP 503 tree bench/pypi serves with nginx (the upstream) and the files it
uploads to NORA. Offline, stdlib + Debian's `packaging` and `build` only.

    /usr/bin/python3 bench/pypi/make_tree.py OUT [--many 500] [--big-mb 6] [--chain 5]
        [--no-metadata] [--no-debian]

OUT/packages/<file>            the wheels (+ <file>.metadata, PEP 658, unless --no-metadata)
OUT/simple/index.html          the project list
OUT/simple/<project>/index.html  one anchor per file: href="../../packages/<file>#sha256=<hex>",
                               data-requires-python, data-dist-info-metadata and
                               data-core-metadata ("sha256=<hex>", PEP 658/714) as PyPI sends them
OUT/upload/<file>              wheels for NORA's hosted repository (not in the tree)
OUT/manifest.json              what run.ts needs: the install set, the 500-file project, the big file

The install set (pip installs all of it together in one `pip install`):
- real wheels from PyPI found on this machine (setuptools, wheel from /usr/share/python-wheels
  and pyenv's ensurepip bundles; every version found goes into the tree, pip picks the newest);
- the pure-Python distributions Debian installed under /usr/lib/python3/dist-packages (a
  `python3-*` package each), repacked as py3-none-any wheels with their own METADATA
  (Requires-Dist from the dist-info, or converted from an egg-info's requires.txt) and their own
  files; kept only when every dependency they declare (markers evaluated for this Python) is
  satisfied by the set, so the set installs without a conflict;
- `--chain` small projects built with `python3 -m build --no-isolation --wheel`, a dependency
  chain nora-bench-chain-0 → 1 → … → six (when six is in the set); more are generated when the
  others come to fewer than 30 projects.
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import email.policy
import glob
import hashlib
import html
import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

DIST_PACKAGES = "/usr/lib/python3/dist-packages"
REAL_WHEEL_GLOBS = [
    "/usr/share/python-wheels/*.whl",
    "/root/.pyenv/versions/*/lib/python*/ensurepip/_bundled/*.whl",
    "/root/.pyenv/versions/*/lib/python*/test/wheeldata/*.whl",
]
# Installed into the fresh venv by the set (pip itself is in the tree but not installed: it is
# the client).
REAL_INSTALL = {"setuptools", "wheel"}
# Debian copies replaced by the real wheels above, and pip (the client).
DEBIAN_SKIP = {"pip", "setuptools", "wheel"}
# Keeps the set about installers' time on the wire, not the time to unpack a vendored world.
MAX_REPACK_BYTES = 4_000_000
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def wheel_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def write_wheel(path: str, entries: list[tuple[str, bytes]], dist_info: str, stored=False) -> None:
    """A wheel: the given entries, then dist-info/RECORD listing every entry with its hash."""
    record = []
    mode = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", mode) as z:
        for arcname, data in entries:
            info = zipfile.ZipInfo(arcname, FIXED_ZIP_TIME)
            info.compress_type = mode
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
            record.append(f"{arcname},{record_hash(data)},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        info = zipfile.ZipInfo(f"{dist_info}/RECORD", FIXED_ZIP_TIME)
        info.compress_type = mode
        info.external_attr = 0o644 << 16
        z.writestr(info, "\n".join(record) + "\n")


def wheel_file_text() -> bytes:
    return b"Wheel-Version: 1.0\nGenerator: nora-bench make_tree\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def small_wheel(out_dir: str, name: str, version: str, extra: bytes = b"", stored=False) -> str:
    """A minimal valid wheel of `name` `version`; `extra` goes into a data file."""
    wn = wheel_name(name)
    dist_info = f"{wn}-{version}.dist-info"
    metadata = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: NORA benchmark fixture\nRequires-Python: >=3.7\n\n"
    ).encode()
    entries = [(f"{wn}/__init__.py", f"VERSION = {version!r}\n".encode())]
    if extra:
        entries.append((f"{wn}/data.bin", extra))
    entries += [(f"{dist_info}/METADATA", metadata), (f"{dist_info}/WHEEL", wheel_file_text())]
    path = os.path.join(out_dir, f"{wn}-{version}-py3-none-any.whl")
    write_wheel(path, entries, dist_info, stored)
    return path


def real_wheels() -> list[str]:
    found: dict[str, str] = {}
    for pattern in REAL_WHEEL_GLOBS:
        for path in sorted(glob.glob(pattern)):
            found.setdefault(os.path.basename(path), path)
    return [found[k] for k in sorted(found)]


def debian_files(dist: md.Distribution) -> list[str] | None:
    """Paths (relative to dist-packages) of the distribution's code; None when not pure Python."""
    rels: list[str] = []
    if dist.files:
        for f in dist.files:
            rel = str(f)
            if rel.startswith("..") or ".dist-info/" in rel or ".egg-info/" in rel:
                continue
            rels.append(rel)
    else:
        top = (dist.read_text("top_level.txt") or "").split()
        for t in top:
            if t == "debian":
                continue
            d = os.path.join(DIST_PACKAGES, t)
            if os.path.isdir(d):
                for root, dirs, files in os.walk(d):
                    dirs[:] = sorted(x for x in dirs if x != "__pycache__")
                    for fn in sorted(files):
                        rels.append(os.path.relpath(os.path.join(root, fn), DIST_PACKAGES))
            elif os.path.isfile(d + ".py"):
                rels.append(t + ".py")
            else:
                return None  # an extension module (`<name>.cpython-*.so`) or missing
    rels = [r for r in rels if "__pycache__" not in r and not r.endswith(".pyc")]
    rels = [r for r in rels if os.path.isfile(os.path.join(DIST_PACKAGES, r))]
    if not rels or any(r.endswith(".so") or ".so." in r for r in rels):
        return None
    if any(r.split("/")[0] == "debian" for r in rels):
        rels = [r for r in rels if r.split("/")[0] != "debian"]
    return sorted(set(rels))


def debian_candidates() -> list[dict]:
    seen: set[str] = set()
    out = []
    for dist in md.distributions(path=[DIST_PACKAGES]):
        name = dist.metadata["Name"]
        if not name:
            continue
        key = canonicalize_name(name)
        if key in seen or key in DEBIAN_SKIP:
            continue
        try:
            version = Version(dist.version)
        except InvalidVersion:
            continue
        if version.local is not None:
            continue  # a Debian `+ds` rebuild: PyPI refuses local versions
        files = debian_files(dist)
        if files is None:
            continue
        size = sum(os.path.getsize(os.path.join(DIST_PACKAGES, r)) for r in files)
        if size > MAX_REPACK_BYTES:
            continue
        seen.add(key)
        out.append(
            {
                "dist": dist,
                "name": name,
                "key": key,
                "version": str(version),
                "files": files,
                "requires": [Requirement(r) for r in (dist.requires or [])],
            }
        )
    return out


def satisfiable(cands: list[dict], available: dict[str, Version]) -> list[dict]:
    """Drops candidates with a dependency the set cannot meet, until none is left to drop."""
    env = default_environment()
    keep = list(cands)
    while True:
        have = dict(available)
        have.update({c["key"]: Version(c["version"]) for c in keep})
        nxt = []
        for c in keep:
            ok = True
            for req in c["requires"]:
                if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
                    continue
                v = have.get(canonicalize_name(req.name))
                if v is None or not req.specifier.contains(v, prereleases=True):
                    ok = False
                    break
            if ok:
                nxt.append(c)
        if len(nxt) == len(keep):
            return keep
        keep = nxt


def closed_subset(cands: list[dict], room: int) -> list[dict]:
    """At most `room` candidates, taken by name with everything they need (markers evaluated)."""
    env = {**default_environment(), "extra": ""}
    by_key = {c["key"]: c for c in cands}

    def closure(c: dict, acc: dict[str, dict]) -> None:
        if c["key"] in acc:
            return
        acc[c["key"]] = c
        for req in c["requires"]:
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            dep = by_key.get(canonicalize_name(req.name))
            if dep is not None:
                closure(dep, acc)

    chosen: dict[str, dict] = {}
    for c in sorted(cands, key=lambda c: c["key"]):
        acc = dict(chosen)
        closure(c, acc)
        if len(acc) <= room:
            chosen = acc
    return sorted(chosen.values(), key=lambda c: c["key"])


def repack(c: dict, out_dir: str) -> str:
    dist = c["dist"]
    wn = wheel_name(c["name"])
    dist_info = f"{wn}-{c['version']}.dist-info"
    original = dist.metadata
    lines = ["Metadata-Version: 2.1", f"Name: {c['name']}", f"Version: {c['version']}"]
    skip = {"metadata-version", "name", "version", "requires-dist", "provides-extra"}
    body = original.get_payload() if hasattr(original, "get_payload") else None
    description = body if isinstance(body, str) and body.strip() else ""
    for k, v in original.items():
        if k.lower() in skip:
            continue
        if k.lower() == "description":
            description = description or str(v)
            continue
        lines.append(f"{k}: " + "\n        ".join(str(v).splitlines()))
    extras = set()
    for req in c["requires"]:
        lines.append(f"Requires-Dist: {req}")
        for m in re.finditer(r'extra\s*==\s*"([^"]+)"', str(req.marker or "")):
            extras.add(m.group(1))
    lines += [f"Provides-Extra: {e}" for e in sorted(extras)]
    metadata = ("\n".join(lines) + "\n\n" + description).encode()
    entries = []
    for rel in c["files"]:
        with open(os.path.join(DIST_PACKAGES, rel), "rb") as f:
            entries.append((rel, f.read()))
    entries.append((f"{dist_info}/METADATA", metadata))
    entries.append((f"{dist_info}/WHEEL", wheel_file_text()))
    ep = dist.read_text("entry_points.txt")
    if ep:
        entries.append((f"{dist_info}/entry_points.txt", ep.encode()))
    path = os.path.join(out_dir, f"{wn}-{c['version']}-py3-none-any.whl")
    write_wheel(path, entries, dist_info)
    return path


def build_chain(count: int, last_dep: str | None, out_dir: str) -> list[str]:
    """`count` projects built by `python3 -m build --no-isolation --wheel`, each needing the next."""
    names = []
    with tempfile.TemporaryDirectory(prefix="nora-bench-chain-") as tmp:
        for i in range(count):
            name = f"nora-bench-chain-{i}"
            dep = f"nora-bench-chain-{i + 1}>=1.0" if i + 1 < count else last_dep
            proj = os.path.join(tmp, name)
            pkg = os.path.join(proj, wheel_name(name))
            os.makedirs(pkg)
            with open(os.path.join(proj, "pyproject.toml"), "w") as f:
                f.write(
                    '[build-system]\nrequires = ["setuptools>=61"]\n'
                    'build-backend = "setuptools.build_meta"\n\n'
                    f'[project]\nname = "{name}"\nversion = "1.0.{i}"\n'
                    'requires-python = ">=3.7"\ndescription = "NORA benchmark: a dependency chain"\n'
                    f"dependencies = {json.dumps([dep] if dep else [])}\n\n"
                    "[tool.setuptools]\n"
                    f'packages = ["{wheel_name(name)}"]\n'
                )
            with open(os.path.join(pkg, "__init__.py"), "w") as f:
                f.write("".join(f"def f{j}(x):\n    return x + {j}\n\n" for j in range(200)))
            names.append(name)
        # Built side by side (each build is ~1 s of one core, mostly the interpreter starting).
        builds = [
            subprocess.Popen(
                [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", out_dir, os.path.join(tmp, n)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for n in names
        ]
        for n, b in zip(names, builds):
            _, err = b.communicate()
            if b.returncode != 0:
                raise SystemExit(f"python -m build {n} failed:\n{err.decode(errors='replace')}")
    return names


def wheel_metadata(path: str) -> tuple[bytes, str | None]:
    with zipfile.ZipFile(path) as z:
        for n in z.namelist():
            parts = n.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                data = z.read(n)
                rp = email.parser.BytesParser().parsebytes(data, headersonly=True).get("Requires-Python")
                return data, rp
    raise SystemExit(f"{path}: no METADATA")


def project_of(filename: str) -> str:
    return canonicalize_name(filename.split("-")[0])


def write_index(root: str, with_metadata: bool) -> dict[str, list[str]]:
    pkgs = os.path.join(root, "packages")
    projects: dict[str, list[str]] = {}
    for fn in sorted(os.listdir(pkgs)):
        if fn.endswith(".whl"):
            projects.setdefault(project_of(fn), []).append(fn)
    simple = os.path.join(root, "simple")
    os.makedirs(simple, exist_ok=True)
    head = '<!DOCTYPE html>\n<html>\n<head>\n<meta name="pypi:repository-version" content="1.0">\n'
    with open(os.path.join(simple, "index.html"), "w") as f:
        f.write(head + "<title>Simple index</title>\n</head>\n<body>\n")
        for p in sorted(projects):
            f.write(f'<a href="{p}/">{p}</a>\n')
        f.write("</body>\n</html>\n")
    for p, files in projects.items():
        os.makedirs(os.path.join(simple, p), exist_ok=True)
        lines = [head + f"<title>Links for {p}</title>\n</head>\n<body>\n<h1>Links for {p}</h1>\n"]
        for fn in files:
            full = os.path.join(pkgs, fn)
            meta, requires_python = wheel_metadata(full)
            attrs = ""
            if requires_python:
                attrs += f' data-requires-python="{html.escape(requires_python)}"'
            if with_metadata:
                with open(full + ".metadata", "wb") as mf:
                    mf.write(meta)
                mh = hashlib.sha256(meta).hexdigest()
                attrs += f' data-dist-info-metadata="sha256={mh}" data-core-metadata="sha256={mh}"'
            lines.append(f'<a href="../../packages/{fn}#sha256={sha256_file(full)}"{attrs}>{fn}</a><br/>\n')
        lines.append("</body>\n</html>\n")
        with open(os.path.join(simple, p, "index.html"), "w") as f:
            f.write("".join(lines))
    return projects


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--many", type=int, default=500, help="files of the many-file project")
    ap.add_argument("--big-mb", type=float, default=6, help="size of the big wheel, MB")
    ap.add_argument("--chain", type=int, default=5, help="projects built with python -m build")
    ap.add_argument("--min-projects", type=int, default=30, help="smallest install set")
    ap.add_argument("--max-install", type=int, default=40, help="largest install set")
    ap.add_argument("--no-metadata", action="store_true", help="no PEP 658 .metadata files")
    ap.add_argument("--no-debian", action="store_true", help="no repacked Debian distributions")
    args = ap.parse_args()
    root = os.path.abspath(args.out)
    pkgs = os.path.join(root, "packages")
    upload = os.path.join(root, "upload")
    os.makedirs(pkgs)
    os.makedirs(upload)

    install: list[str] = []
    real = real_wheels()
    real_versions: dict[str, Version] = {}
    for path in real:
        shutil.copyfile(path, os.path.join(pkgs, os.path.basename(path)))
        key = project_of(os.path.basename(path))
        v = Version(os.path.basename(path).split("-")[1])
        real_versions[key] = max(v, real_versions.get(key, v))
    install += sorted(k for k in real_versions if k in REAL_INSTALL)

    debian = [] if args.no_debian else debian_candidates()
    debian = satisfiable(debian, {k: v for k, v in real_versions.items() if k in REAL_INSTALL})
    for c in debian:
        repack(c, pkgs)  # all of them in the tree; the install set takes a closed subset
    chosen = closed_subset(debian, max(0, args.max_install - len(install) - args.chain))
    install += [c["name"] for c in chosen]

    chain = max(args.chain, args.min_projects - len(install))
    last = "six>=1.0" if "six" in install else None
    install += build_chain(chain, last, pkgs)

    many = "bench-many"
    for i in range(args.many):
        small_wheel(pkgs, many, f"1.{i}.0")
    big_bytes = os.urandom(int(args.big_mb * 1_000_000))
    big = small_wheel(pkgs, "bench-big", "1.0.0", big_bytes, stored=True)
    projects = write_index(root, not args.no_metadata)

    hosted_many = "bench-hosted-many"
    for i in range(args.many):
        small_wheel(upload, hosted_many, f"1.{i}.0")
    hosted_big = small_wheel(upload, "bench-hosted-big", "1.0.0", big_bytes, stored=True)

    install_files = [fn for p in install for fn in projects[canonicalize_name(p)]]
    manifest = {
        "install": install,
        "installBytes": sum(os.path.getsize(os.path.join(pkgs, f)) for f in install_files),
        "sources": {
            "realWheels": sorted(k for k in real_versions if k in REAL_INSTALL),
            "debianRepacks": [canonicalize_name(c["name"]) for c in chosen],
            "debianInTreeOnly": sorted(set(c["key"] for c in debian) - set(c["key"] for c in chosen)),
            "built": install[len(install) - chain :],
        },
        "projects": len(projects),
        "files": sum(len(v) for v in projects.values()),
        "metadata": not args.no_metadata,
        "many": {"project": many, "files": len(projects[many])},
        "big": {"project": "bench-big", "filename": os.path.basename(big), "size": os.path.getsize(big)},
        "hostedMany": {"project": hosted_many, "files": args.many},
        "hostedBig": {"project": "bench-hosted-big", "filename": os.path.basename(hosted_big)},
    }
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(json.dumps({k: v for k, v in manifest.items() if k != "sources"}))


if __name__ == "__main__":
    main()
