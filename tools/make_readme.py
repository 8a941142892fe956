"""Render README.md from nbs/index.ipynb without Quarto (which cannot be installed on the offline CI machine).

    python tools/make_readme.py          # write README.md and copy the pictures it shows into images/
    python tools/make_readme.py --check  # exit 1 if README.md or images/ are out of step with nbs/index.ipynb

Both also check that the README stays short (at most MAX_WORDS words) and the chapter list: every course chapter (nbs/course/) has exactly one "Open in Colab" badge, every badge
opens a notebook that exists, and every API notebook (nbs/api/) is linked.

Markdown cells are copied; code cells become ```python blocks followed by their text output; cells marked
`#| hide` are left out and `#|` directive lines are dropped, as nbdev does. Pictures referenced as
`images/NAME.png` live in nbs/images/ (where the docs site finds them) and are copied to images/ (where the
repository page finds them). Links to notebooks and pages (`[core](api/00_core.ipynb)`, `[results](results.md)`, relative
to nbs/ on the docs site) become `nbs/api/00_core.ipynb` and `nbs/results.md`, relative to the repository root where
README.md sits.
"""
import json, re, shutil, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NB, README = ROOT/'nbs'/'index.ipynb', ROOT/'README.md'
HEADER = '<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n'

def directives(src): return [l for l in src.splitlines() if l.startswith('#|')]

def cell_md(cell):
    src = ''.join(cell['source'])
    if cell['cell_type'] == 'markdown': return src.strip()
    if cell['cell_type'] != 'code': return ''
    dirs = directives(src)
    if any(re.match(r'#\|\s*(hide|exporti?|default_exp)\b', d) for d in dirs): return ''
    code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
    parts = [f"```python\n{code}\n```"] if code else []
    for o in cell.get('outputs', []):
        text = o.get('text') or o.get('data', {}).get('text/markdown') or o.get('data', {}).get('text/plain')
        if text: parts.append(f"```\n{''.join(text).rstrip()}\n```" if 'text/markdown' not in o.get('data', {}) else ''.join(text))
    return '\n\n'.join(parts)

def root_links(md):
    "Chapter links relative to nbs/ (the docs site) made relative to the repository root (README.md)."
    return re.sub(r'\]\((?!\w+://|/|nbs/)([\w.\-/]+\.(?:ipynb|md)(?:#[\w\-]+)?)\)', r'](nbs/\1)', md)

def render():
    nb = json.loads(NB.read_text())
    return root_links(HEADER + '\n\n'.join(md for md in map(cell_md, nb['cells']) if md) + '\n')

def pictures(md): return sorted(set(re.findall(r'\(images/([\w.\-]+\.(?:png|jpg|gif|svg))\)', md)))

MAX_WORDS = 1200   # the README introduces and links; chapters teach, the results page holds the figures

COLAB = 'https://colab.research.google.com/github/facefake/facefake/blob/main/'

def chapter_problems(md):
    "Every chapter notebook has one Colab badge in the chapter list, and every badge opens a notebook that exists."
    badges = re.findall(r'\(' + re.escape(COLAB) + r'([^)\s]+)\)', md)
    bad = [f"Colab badge points at {b}, which does not exist" for b in badges if not (ROOT/b).is_file()]
    chapters = sorted(f"nbs/course/{p.name}" for p in (ROOT/'nbs'/'course').glob('[0-9]*.ipynb'))
    bad += [f"{c} has no Colab badge in nbs/index.ipynb's chapter list" for c in chapters if badges.count(c) != 1]
    bad += [f"nbs/api/{p.name} is not linked from nbs/index.ipynb" for p in sorted((ROOT/'nbs'/'api').glob('*.ipynb'))
            if f"](nbs/api/{p.name})" not in md]
    return bad

def main(check=False):
    md = render()
    bad = chapter_problems(md)
    if len(md.split()) > MAX_WORDS: bad.append(f"README.md has {len(md.split())} words; keep it to {MAX_WORDS} (results belong on nbs/results.md)")
    for name in pictures(md):
        src, dst = ROOT/'nbs'/'images'/name, ROOT/'images'/name
        if not src.exists(): bad.append(f"nbs/images/{name} is referenced by nbs/index.ipynb but missing")
        elif check and (not dst.exists() or dst.read_bytes() != src.read_bytes()): bad.append(f"images/{name} differs from nbs/images/{name}")
        elif not check: dst.parent.mkdir(exist_ok=True); shutil.copyfile(src, dst)
    if check and (not README.exists() or README.read_text() != md): bad.append("README.md differs from nbs/index.ipynb")
    if not check: README.write_text(md)
    if bad: print('\n'.join(bad) + "\nrun: python tools/make_readme.py", file=sys.stderr); sys.exit(1)
    print("README.md " + ("is in step with" if check else "written from") + " nbs/index.ipynb")

if __name__ == '__main__': main(check='--check' in sys.argv)
