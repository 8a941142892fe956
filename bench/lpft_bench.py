"""LP-FT on the StyleGAN sample, validation only: fine-tune the whole 8 x 8 probe model (MobileNetV2 blocks 1-16 and the
folded logistic head) starting from the probe itself, with every batch-norm layer kept in inference mode (the head's
holds the probe's standardisation) and a small learning rate (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained
Features and Underperform Out-of-Distribution"). Reads the features cached by bench/probe_heads_bench.py:

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \
      .venv/bin/python bench/lpft_bench.py runs/f140-feats384.npz --lr 3e-5 --epochs 3 --forensic

Prints the validation loss, accuracy and AUC before training (the probe's) and after every epoch.
"""
import argparse, time, warnings; warnings.filterwarnings('ignore')
import numpy as np
from torch import nn
from fastai.callback.core import Callback
from facefake.core import CLASSES
from facefake.splits import load_dataset
from facefake.train import face_dls, make_learner
from facefake.probe import PROBE_HEAD, fit_logistic, fold_logistic

class FrozenBN(Callback):
    "Keep every batch-norm layer in inference mode while training (its statistics are the probe's standardisation)."
    def before_train(self):
        for m in self.learn.model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm): m.eval()

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('cache', help='features saved by bench/probe_heads_bench.py --size 384 --cache FILE')
    ap.add_argument('--lr', type=float, default=3e-5)
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--forensic', action='store_true', help='forensic augmentation while fine-tuning')
    a = ap.parse_args()
    df = load_dataset('faces140k-sample')
    z = np.load(a.cache, allow_pickle=False)
    if not str(z['key']).startswith('faces140k-sample|mobilenet_v2_taps8|384|2|42|'):
        raise SystemExit(f"{a.cache} holds features for {z['key']}; make it with probe_heads_bench.py --size 384 (the defaults otherwise)")
    scaler, clf, table = fit_logistic(z['Xt'], z['yt'], z['Xv'], z['yv'])   # C chosen on the valid split, as fit_probe does
    print(f'probe: C = {clf.C}, valid AUC {table.valid_auc.max():.4f}', flush=True)
    dls = face_dls(df, size=384, bs=32, aug=True, forensic=a.forensic)
    learn = make_learner(dls, 'mobilenet_v2_taps8', head=PROBE_HEAD, cbs=[FrozenBN()])   # cross-entropy, accuracy and AUC
    fold_logistic(learn.model[1], scaler, clf, fake_index=CLASSES.index('fake'))
    learn.wd = 0.   # no weight decay: it would shrink the probe's weights
    t = time.time(); print('before:', learn.validate(), f'{time.time()-t:.0f} s', flush=True)
    t = time.time()
    with learn.no_bar(): learn.fit_one_cycle(a.epochs, a.lr, pct_start=0.1)
    print(f'{time.time()-t:.0f} s for {a.epochs} epochs', flush=True)

if __name__ == '__main__': main()
