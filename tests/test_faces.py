"The face pipeline on bad input and around user folders, with files these tests make from one shared face."
import hashlib, json, warnings
import numpy as np, pytest
from PIL import Image
from facefake.core import data_root, load_image
from facefake.faces import (DetectionGapWarning, NoFaceError, align_face, crop_folder, detect_faces,
                            detection_rates, face_crop, read_crops)

FACE = data_root()/'faces140k-sample'/'real'/'00003.jpg'
OTHER = data_root()/'faces140k-sample'/'fake'/'00AUP94LQS.jpg'
pytestmark = pytest.mark.skipif(not FACE.exists(), reason=f"no {FACE}: set FACEFAKE_DATA to the shared datasets")

def save(img, path, fmt, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, fmt, **kw)
    return path

def corr(a, b):
    a, b = (np.asarray(x.convert('L').resize((64, 64)), dtype=float).ravel() for x in (a, b))
    return np.corrcoef(a, b)[0, 1]

@pytest.fixture(scope='module')
def face(): return load_image(FACE)

EXPECTED = {'real/plain.jpg': 'cropped', 'real/exif_rotated.jpg': 'cropped', 'real/grey.jpg': 'cropped',
            'real/rgba.png': 'cropped', 'real/cmyk.jpg': 'cropped', 'real/gray16.png': 'cropped',
            'real/palette.png': 'cropped', 'fake/bomb.png': 'unreadable', 'fake/tiny.png': 'too small',
            'fake/noface.png': 'no face', 'fake/truncated.jpg': 'unreadable', 'fake/notes.jpg': 'unreadable',
            'fake/pair.png': 'several faces', 'fake/plain.jpg': 'cropped'}

@pytest.fixture
def messy(tmp_path, face):
    "A dataset folder with every awkward kind of file."
    src = tmp_path/'src'
    save(face, src/'real'/'plain.jpg', 'JPEG', quality=95)
    exif = Image.Exif(); exif[0x0112] = 6                         # pixels stored sideways, EXIF says turn them
    save(face.transpose(Image.Transpose.ROTATE_90), src/'real'/'exif_rotated.jpg', 'JPEG', exif=exif, quality=95)
    save(face.convert('L'), src/'real'/'grey.jpg', 'JPEG')
    save(face.convert('RGBA'), src/'real'/'rgba.png', 'PNG')
    save(face.convert('CMYK'), src/'real'/'cmyk.jpg', 'JPEG')
    save(Image.fromarray(np.asarray(face.convert('L'), dtype=np.uint16) * 257), src/'real'/'gray16.png', 'PNG')
    save(face.convert('P', palette=Image.Palette.ADAPTIVE), src/'real'/'palette.png', 'PNG')
    save(Image.new('L', (9000, 9000)), src/'fake'/'bomb.png', 'PNG')
    save(Image.new('RGB', (20, 16), 'white'), src/'fake'/'tiny.png', 'PNG')
    save(Image.new('RGB', (256, 256), (120, 130, 140)), src/'fake'/'noface.png', 'PNG')
    (src/'fake'/'truncated.jpg').write_bytes((src/'real'/'plain.jpg').read_bytes()[:2000])
    (src/'fake'/'notes.jpg').write_text('not a picture')
    pair = Image.new('RGB', (512, 256)); pair.paste(face, (0, 0)); pair.paste(load_image(OTHER), (256, 0))
    save(pair, src/'fake'/'pair.png', 'PNG')
    save(load_image(OTHER), src/'fake'/'plain.jpg', 'JPEG', quality=95)
    return src

def tree(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob('*')) if p.is_file()}

def crop(src, dst, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DetectionGapWarning)
        return crop_folder(src, dst, progress=False, **kw)

def test_every_bad_input_is_reported_not_fatal(messy, tmp_path):
    before = tree(messy)
    with pytest.warns(DetectionGapWarning, match='DETECTION RATES DIFFER'):
        df = crop_folder(messy, tmp_path/'out', progress=False)
    assert dict(zip(df.rel, df.status)) == EXPECTED
    detail = dict(zip(df.rel, df.detail))
    assert 'decompression bomb' in detail['fake/bomb.png'] and 'bomb.png' in detail['fake/bomb.png']
    assert 'too small' in detail['fake/tiny.png'] and '20x16' in detail['fake/tiny.png']
    assert 'truncated' in detail['fake/truncated.jpg'] and 'not an image' in detail['fake/notes.jpg']
    assert '2 faces' in detail['fake/pair.png']
    assert tree(messy) == before                                   # the source is never written to
    for out in df.out[df.status == 'cropped']:
        assert Image.open(tmp_path/'out'/out).mode == 'RGB'
    assert set(read_crops(tmp_path/'out').rel) == set(EXPECTED)

def test_exif_rotated_photo_comes_out_upright(messy):
    upright = face_crop(messy/'real'/'plain.jpg', size=128)
    assert corr(face_crop(messy/'real'/'exif_rotated.jpg', size=128), upright) > 0.95
    assert detect_faces(Image.open(messy/'real'/'exif_rotated.jpg').convert('RGB')) == []   # without the EXIF turn: no face

def test_colour_modes_give_the_same_crop(messy):
    ref = face_crop(messy/'real'/'plain.jpg', size=128)
    for f in ['grey.jpg', 'rgba.png', 'cmyk.jpg', 'gray16.png', 'palette.png']:
        c = face_crop(messy/'real'/f, size=128)
        assert c.mode == 'RGB' and c.size == (128, 128) and corr(c, ref) > 0.95, f

def test_errors_name_the_file(messy):
    with pytest.raises(NoFaceError, match='noface.png'): face_crop(messy/'fake'/'noface.png')
    with pytest.raises(NoFaceError, match='too small'): face_crop(messy/'fake'/'tiny.png')
    with pytest.raises(ValueError, match='decompression bomb'): face_crop(messy/'fake'/'bomb.png')

def test_resume_skips_what_is_done(messy, tmp_path):
    dst = tmp_path/'out'
    first = crop(messy, dst, files=['real/plain.jpg', 'real/grey.jpg', 'fake/tiny.png'])
    stamps = {p: p.stat().st_mtime_ns for p in dst.rglob('*.png')}
    with pytest.raises(FileExistsError, match='resume=True'): crop(messy, dst)
    df = crop(messy, dst, resume=True)
    assert dict(zip(df.rel, df.status)) == EXPECTED
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())   # earlier crops were not redone
    assert df.set_index('rel').loc[first.rel, 'status'].tolist() == first.status.tolist()
    (dst/'real'/'grey.png').unlink()                                     # a crop removed by hand is redone
    assert (dst/'real'/'grey.png').exists() is False
    crop(messy, dst, resume=True)
    assert (dst/'real'/'grey.png').exists()

def test_refuses_foreign_and_source_folders(messy, tmp_path):
    mine = tmp_path/'mine'; mine.mkdir(); (mine/'thesis.txt').write_text('precious')
    for kw in [{}, dict(resume=True), dict(overwrite=True)]:
        with pytest.raises(FileExistsError, match='not made by crop_folder'): crop(messy, mine, **kw)
    assert [p.name for p in mine.iterdir()] == ['thesis.txt'] and (mine/'thesis.txt').read_text() == 'precious'
    with pytest.raises(ValueError, match='source folder'): crop(messy, messy/'crops')
    with pytest.raises(ValueError, match='source folder'): crop(messy, messy)
    assert not (messy/'crops').exists()

def test_settings_change_needs_overwrite(messy, tmp_path):
    dst = tmp_path/'out'
    crop(messy, dst, files=['real/plain.jpg'])
    with pytest.raises(FileExistsError, match='other settings'): crop(messy, dst, size=64, resume=True)
    df = crop(messy, dst, size=64, files=['real/plain.jpg'], overwrite=True)
    assert Image.open(dst/df.out[0]).size == (64, 64)
    assert json.loads((dst/'.facefake-faces.json').read_text())['size'] == 64

def test_serial_and_parallel_agree(messy, tmp_path):
    a, b = crop(messy, tmp_path/'a', n_workers=0), crop(messy, tmp_path/'b', n_workers=2)
    assert a.status.tolist() == b.status.tolist()
    assert np.allclose(a.x0.fillna(-1), b.x0.fillna(-1))

def test_detection_gap_warning():
    import pandas as pd
    even = pd.DataFrame(dict(label=['real'] * 10 + ['fake'] * 10, status=['cropped'] * 20))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert detection_rates(even).attrs['gap'] == 0
    uneven = pd.DataFrame(dict(label=['real'] * 10 + ['fake'] * 10, status=['cropped'] * 18 + ['no face'] * 2))
    with pytest.warns(DetectionGapWarning, match='real: 100.0%'): t = detection_rates(uneven)
    assert t.loc['fake', 'detected'] == 0.8
    unread = pd.DataFrame(dict(label=['real'] * 2 + ['fake'] * 2, status=['cropped', 'unreadable', 'cropped', 'cropped']))
    assert detection_rates(unread).attrs['gap'] == 0                     # unreadable files do not count as misses

def test_large_photo_is_searched_small_but_cropped_at_full_size(face):
    big = face.resize((1024, 1024))
    small_box, big_box = detect_faces(face)[0]['box'], detect_faces(big)[0]['box']
    assert np.allclose(np.array(big_box) / 4, small_box, atol=8)
    f = detect_faces(big)[0]
    assert align_face(big, f['landmarks'], box=f['box']).width > 800           # full resolution kept
    assert align_face(big, None, size=96, box=f['box']).size == (96, 96)         # box crop when no landmarks
