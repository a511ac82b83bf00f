"""Write the OpenAPI documents and the Power Automate connector from the models.

.venv/bin/python scripts/write_api_docs.py          # rewrite docs/api/ and connectors/
.venv/bin/python scripts/write_api_docs.py --check  # exit 1 if a committed file is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from function.edge.openapi.files import contract_files  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    stale = []
    for relative, content in contract_files().items():
        path = ROOT / relative
        if path.exists() and path.read_bytes() == content:
            continue
        stale.append(relative)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    for relative in stale:
        print(("stale: " if args.check else "wrote: ") + relative)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
