"""Make the browser tests' screenshots small enough to commit: `python tests/browser/shrink_screenshots.py SRC DST`.

The review test leaves them where KEEP_SCREENSHOTS points (`KEEP_SCREENSHOTS=/tmp/shots pytest
tests/browser/test_review_ui.py`); this keeps each as a 64-colour PNG, which text and flat colours survive, at a
fraction of the size. The README's review section shows the ones in docs/screenshots/."""
import sys
from pathlib import Path

from PIL import Image


def main(source: str, target: str) -> None:
    Path(target).mkdir(parents=True, exist_ok=True)
    for shot in sorted(Path(source).glob("*.png")):
        small = Image.open(shot).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        small.save(Path(target) / shot.name, optimize=True)
        print(f"{shot.name}: {shot.stat().st_size // 1024} KB -> {(Path(target) / shot.name).stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(*sys.argv[1:3])
