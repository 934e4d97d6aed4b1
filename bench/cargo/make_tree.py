#!/usr/bin/env python3
"""Builds a static sparse-index registry (RFC 2789, laid out like crates.io's) from the real crate
sources Debian's librust-*-dev packages install under /usr/share/cargo/registry/<name>-<version>/.

    python3 bench/cargo/make_tree.py <out-dir> [<registry-dir>]

For each crate directory (its Cargo.toml is the one `cargo package` normalised, as published):
- a `.crate` file, the tar.gz `cargo package` writes: every file under `<name>-<version>/`,
  without Debian's additions (`debian/`, `.cargo-checksum.json`, `.pc/`), sorted, owner 0,
  mtime fixed, so a rebuild gives the same bytes and the same checksum;
- its index line, built from Cargo.toml as crates.io builds it from the publish metadata: `deps`
  (normal, dev and build, with `target` for `[target.<cfg>.*]`, `package` for renames, `req` `*`
  when none), `features` (entries using `dep:`/`?/` syntax moved to `features2` with `v: 2`),
  `links`, `rust_version`, `cksum` = sha256 of the `.crate`.

Output:
  <out>/index/<prefix path>             one index file per crate (every version of it)
  <out>/crates/<name>/<name>-<version>.crate
  <out>/manifest.json                   {"crates": [{name, vers, cksum, size}], "bytes": total}
The index's config.json names the server's own port, so whoever serves the tree writes it:
  {"dl": "http://127.0.0.1:<port>/crates/{crate}/{crate}-{version}.crate"}.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tomllib

SKIP_TOP = {"debian", ".cargo-checksum.json", ".pc", "Cargo.toml.orig.debcargo"}
MTIME = 1_700_000_000


def index_path(name: str) -> str:
    n = name.lower()
    if len(n) == 1:
        return f"1/{n}"
    if len(n) == 2:
        return f"2/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[0:2]}/{n[2:4]}/{n}"


def build_crate(src: str, name: str, version: str) -> bytes:
    top = f"{name}-{version}"
    files = []
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        if rel_dir == ".":
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_TOP)
            filenames = [f for f in filenames if f not in SKIP_TOP]
        else:
            dirnames.sort()
        for f in sorted(filenames):
            full = os.path.join(dirpath, f)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            files.append((os.path.normpath(os.path.join(rel_dir, f)), full))
    files.sort()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for rel, full in files:
            info = tarfile.TarInfo(f"{top}/{rel}")
            with open(full, "rb") as fh:
                data = fh.read()
            info.size = len(data)
            info.mtime = MTIME
            info.mode = 0o755 if os.access(full, os.X_OK) else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def deps_of(table: dict, kind: str, target):
    out = []
    for key, spec in sorted(table.items()):
        if isinstance(spec, str):
            spec = {"version": spec}
        if not isinstance(spec, dict):
            continue
        dep = {
            "name": key,
            "req": spec.get("version", "*"),
            "features": list(spec.get("features", [])),
            "optional": bool(spec.get("optional", False)),
            "default_features": bool(spec.get("default-features", spec.get("default_features", True))),
            "target": target,
            "kind": kind,
        }
        if "package" in spec:
            dep["package"] = spec["package"]
        out.append(dep)
    return out


def all_deps(manifest: dict):
    deps = []
    sections = [("dependencies", "normal"), ("dev-dependencies", "dev"), ("dev_dependencies", "dev"),
                ("build-dependencies", "build"), ("build_dependencies", "build")]
    for section, kind in sections:
        deps += deps_of(manifest.get(section, {}), kind, None)
    for target, table in sorted(manifest.get("target", {}).items()):
        for section, kind in sections:
            deps += deps_of(table.get(section, {}), kind, target)
    return deps


def split_features(features: dict):
    plain, new = {}, {}
    for key, values in features.items():
        if any(v.startswith("dep:") or "?/" in v for v in values):
            new[key] = list(values)
        else:
            plain[key] = list(values)
    return plain, new


def main() -> None:
    out = os.path.abspath(sys.argv[1])
    registry = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/cargo/registry"
    entries = {}
    manifest = {"crates": [], "bytes": 0}
    for entry in sorted(os.listdir(registry)):
        src = os.path.join(registry, entry)
        toml_path = os.path.join(src, "Cargo.toml")
        if not os.path.isfile(toml_path):
            continue
        with open(toml_path, "rb") as fh:
            try:
                cargo = tomllib.load(fh)
            except tomllib.TOMLDecodeError:
                continue
        package = cargo.get("package", {})
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        data = build_crate(src, name, version)
        cksum = hashlib.sha256(data).hexdigest()
        crate_dir = os.path.join(out, "crates", name)
        os.makedirs(crate_dir, exist_ok=True)
        with open(os.path.join(crate_dir, f"{name}-{version}.crate"), "wb") as fh:
            fh.write(data)
        features, features2 = split_features(cargo.get("features", {}))
        line = {
            "name": name,
            "vers": version,
            "deps": all_deps(cargo),
            "cksum": cksum,
            "features": features,
            "yanked": False,
        }
        if package.get("links"):
            line["links"] = package["links"]
        if features2:
            line["features2"] = features2
            line["v"] = 2
        if isinstance(package.get("rust-version"), str):
            line["rust_version"] = package["rust-version"]
        entries.setdefault(name.lower(), []).append(line)
        manifest["crates"].append({"name": name, "vers": version, "cksum": cksum, "size": len(data)})
        manifest["bytes"] += len(data)
    for lower, lines in entries.items():
        path = os.path.join(out, "index", index_path(lower))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(json.dumps(line, separators=(",", ":")) + "\n")
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
    print(f"{len(manifest['crates'])} crates, {manifest['bytes']} bytes -> {out}")


if __name__ == "__main__":
    main()
