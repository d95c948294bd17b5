"""Each image's Python environment, built without Docker the way the Dockerfile builds it.

For every image of :data:`runtime_lock.IMAGES`: a virtual environment keyed by the
hash of its runtime lock (created once per lock under ``--cache``, reused after),
the lock installed with ``--no-deps``, then Warmline's wheel from ``--wheel-dir``
(rebuilt by ``make image-check`` on every run), then ``pip check``. Prints a JSON
object ``{image: environment}`` for the smoke tests (tests/images/) and, on
stderr, the size of each environment's site-packages ("image sizes" in the README).

    python tools/image_envs.py --cache DIR --wheel-dir DIR > envs.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from runtime_lock import IMAGES, ROOT

PYTHON = "python3.11"


def pip(environment: Path, *args: str) -> None:
    """Run the environment's pip (without the checkout on PYTHONPATH); its output goes
    to stderr, stdout is the JSON answer."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [str(environment / "bin" / "python"), "-m", "pip", *args]
    subprocess.run(command, env=env, check=True, stdout=sys.stderr)


def environment(image: str, cache: Path, wheel: Path) -> Path:
    """The image's environment with this checkout's wheel in it, checked by pip."""
    lock = ROOT / f"requirements-{image}.lock"
    key = hashlib.sha256(lock.read_bytes()).hexdigest()[:16]
    path = cache / f"image-{image}-{key}"
    if not (path / ".ready").is_file():
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([PYTHON, "-m", "venv", str(path)], check=True)
        pip(path, "install", "--quiet", "--no-deps", "-r", str(lock))
        (path / ".ready").touch()
    pip(path, "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel))
    pip(path, "check")
    return path


def size_mib(path: Path) -> float:
    """Bytes of every file under ``path``, in MiB."""
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return total / 2**20


def main() -> None:
    """Build or reuse every image's environment; print their paths as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--wheel-dir", type=Path, required=True)
    args = parser.parse_args()
    (wheel,) = args.wheel_dir.glob("warmline-*.whl")
    found = {}
    for image in IMAGES:
        path = environment(image, args.cache, wheel)
        site = path / "lib" / "python3.11" / "site-packages"
        print(f"{image} image: {size_mib(site):,.0f} MiB of site-packages", file=sys.stderr)
        found[image] = str(path)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
