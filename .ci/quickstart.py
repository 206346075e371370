"""Print the README's two quickstart commands, one per line: the first two ```sh blocks under "## Quickstart"."""

import re
from pathlib import Path

readme = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text(encoding="utf-8")
section = readme.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
for block in re.findall(r"```sh\n(.*?)\n```", section, re.DOTALL)[:2]:
    print(block.strip())
