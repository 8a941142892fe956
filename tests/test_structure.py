"The package's shape: each module imports only modules of earlier chapters, the augmentation settings never reach the robustness benchmark, and library functions work outside their notebooks."
import ast, re
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from facefake.core import data_root

PKG = Path(__file__).resolve().parents[1]/'facefake'

def chapter(module:str) -> str:
    "The notebook a module is exported from, e.g. '06a_detector' for 'detector'."
    m = re.search(r'File to edit: \.\./nbs/(\S+)\.ipynb', (PKG/f'{module}.py').read_text())
    assert m, f"facefake/{module}.py does not say which notebook it comes from"
    return m.group(1)

def facefake_imports(path:Path) -> set:
    "The facefake modules that `path` imports, at the top or inside functions."
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1: found |= {node.module.split('.')[0]} if node.module else {a.name for a in node.names}
            elif node.module and node.module.startswith('facefake.'): found.add(node.module.split('.')[1])
            elif node.module == 'facefake': found |= {a.name for a in node.names if (PKG/f'{a.name}.py').exists()}
        elif isinstance(node, ast.Import):
            found |= {a.name.split('.')[1] for a in node.names if a.name.startswith('facefake.')}
    return found

MODULES = sorted(p.stem for p in PKG.glob('*.py') if not p.stem.startswith('_'))

def test_the_checker_sees_every_kind_of_import(tmp_path):
    f = tmp_path/'m.py'
    f.write_text("from .core import x\nfrom . import splits\ndef g():\n    from facefake.faces import y\n    import facefake.data\n")
    assert facefake_imports(f) == {'core', 'splits', 'faces', 'data'}

@pytest.mark.parametrize('module', MODULES)
def test_modules_import_only_earlier_chapters(module):
    later = {m: chapter(m) for m in facefake_imports(PKG/f'{module}.py') if chapter(m) >= chapter(module)}
    assert not later, f"{module} ({chapter(module)}) imports modules of later chapters: {later}"

def test_the_command_line_module_comes_last():
    assert max(MODULES, key=chapter) == 'cli'

def face(seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (96, 96, 3), dtype=np.uint8))

def test_augmentation_settings_leave_the_benchmark_alone():
    from fastai.vision.all import PILImage
    from facefake.evaluate import CONDITIONS
    from facefake.train import Augmentation, RandomForensic
    img = face()
    before = {k: np.asarray(f(img) if f else img) for k, f in CONDITIONS.items()}
    harsh = Augmentation(max_rotate=45, p_jpeg=1, quality=(5, 10), p_blur=1, sigma=(3, 5), p_resize=1, scale=(0.1, 0.2))
    t = RandomForensic(harsh)
    t(PILImage(img), split_idx=0)                  # augmentation applied as training applies it
    t.settings = t.settings.with_strength(1.)     # and re-set as the tuning callback does
    t(PILImage(img), split_idx=0)
    after = {k: np.asarray(f(img) if f else img) for k, f in CONDITIONS.items()}
    assert list(after) == list(before) and all(np.array_equal(after[k], before[k]) for k in before)
    assert RandomForensic().settings == Augmentation()   # the defaults are untouched too
    with pytest.raises(TypeError): CONDITIONS['JPEG 50'] = None

@pytest.mark.skipif(not (data_root()/'faces140k-sample').is_dir(), reason='no faces140k-sample: set FACEFAKE_DATA')
def test_imbalance_study_runs_outside_its_notebook():
    from facefake.splits import load_dataset
    from facefake.ensemble import imbalance_study
    df = load_dataset('faces140k-sample', limit=12)
    res = imbalance_study(df, size=32, epochs=1, arch='simple_cnn', pretrained=False, framing='whole')
    assert list(res.index) == ['plain', 'balanced sampling', 'focal loss', 'oversampling']
    assert ((res.roc_auc >= 0) & (res.roc_auc <= 1)).all()
