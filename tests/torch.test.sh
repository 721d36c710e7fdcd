#!/bin/sh
# scripts/revive_torch.py: revive -> PyTorch -> revive gives bit-identical parameters and running
# statistics; a module changed in PyTorch and saved is evaluated and resumed by revive; PyTorch's
# accuracy and loss on real images equal `pipeline eval`'s; files it cannot use give one clear
# error. Skipped (with a message) when python3-torch is not installed: it is large, and
# scripts/install-deps.sh does not install it.
set -u
. tests/lib.sh
if ! "$PY" -c "import torch" 2>/dev/null; then
    ok "# SKIP python3-torch is not installed for $PY: scripts/revive_torch.py not tested"
    finish torch
    exit 0
fi
RT="import sys; sys.path.insert(0, 'scripts'); import revive_torch, revive_h5, torch, h5py, numpy as np"

tiny_staged_ini "$TMP/t.ini" t 1
"$PIPE" run "$TMP/t.ini" > "$TMP/t.log" 2>&1 || not_ok "tiny run: $(tail -n 1 "$TMP/t.log")"
T=$TMP/ck/t

# Round trip: load, save into a copy of the same file: every parameter and running statistic
# comes back bit for bit (h5diff compares the values exactly).
r=$("$PY" -c "$RT
m = revive_torch.load('$T/stage-01.h5')
assert not m.training
revive_torch.save(m, '$TMP/back.h5', like='$T/stage-00.h5')" 2>&1)
for g in /params /running /model; do
    h5diff -q "$T/stage-01.h5" "$TMP/back.h5" $g $g > /dev/null || r="$r $g differs;"
done
# What save writes is format 3 as revive writes it: every string fixed-length (h5py's own strings
# would be variable-length, which revive refuses in a format-3 file).
r="$r$("$PY" -c "$RT
bad = []
def visit(name, obj):
    for k in obj.attrs:
        s = h5py.check_string_dtype(obj.attrs.get_id(k).dtype)
        if s and s.length is None: bad.append(name + ' ' + k)
    if isinstance(obj, h5py.Dataset) and h5py.check_string_dtype(obj.dtype) and h5py.check_string_dtype(obj.dtype).length is None:
        bad.append(name)
with h5py.File('$TMP/back.h5', 'r') as f:
    visit('/', f); f.visititems(visit)
    if f.attrs['format_version'] != revive_h5.FORMAT_VERSION: bad.append('format_version')
if bad: print('variable-length strings:', bad)" 2>&1)"
check "revive -> torch -> revive: /params, /running and /model bit-identical; strings fixed-length" "$r"

# state_dict has PyTorch's names, one per tensor of the model, with revive's values.
r=$("$PY" -c "$RT
sd = revive_torch.state_dict('$T/stage-02.h5')
f = h5py.File('$T/stage-02.h5', 'r')
pairs = {'conv.weight': 'params/stem.conv', 'bn.weight': 'params/stem.gamma',
         'blocks.1.bn1.bias': 'params/seg2.block0.conv1.beta',
         'blocks.1.shortcut.0.weight': 'params/seg2.block0.shortcut.conv',
         'blocks.2.shortcut.1.running_var': 'running/seg3.block0.shortcut/var',
         'fc.weight': 'params/output.weight', 'fc.bias': 'params/output.bias'}
for k, v in pairs.items():
    if not np.array_equal(sd[k].numpy(), f[v][()]): print(k, 'differs from', v)
n = sum(1 for k in sd if not k.endswith('num_batches_tracked'))
want = len(f['params']) + 2 * len(f['running']) + 2
if n != want: print(f'{n} tensors, want {want}')
" 2>&1)
check "state_dict: PyTorch names, revive's values, nothing missing" "$r"

# Changed in PyTorch (γ doubled, one running mean moved), saved: revive evaluates it, sees the new
# values, and resumes from it.
r=$("$PY" -c "$RT
m = revive_torch.load('$T/stage-01.h5')
with torch.no_grad():
    m.bn.weight.mul_(2); m.blocks[0].bn2.running_mean.add_(0.25)
revive_torch.save(m, '$TMP/changed.h5', like='$T/stage-01.h5')
f = h5py.File('$TMP/changed.h5', 'r'); g = h5py.File('$T/stage-01.h5', 'r')
assert np.array_equal(f['params/stem.gamma'][()], 2 * g['params/stem.gamma'][()])
assert np.array_equal(f['running/seg1.block0.conv2/mean'][()], g['running/seg1.block0.conv2/mean'][()] + np.float32(0.25))
" 2>&1)
a=$("$PIPE" eval "$T/stage-01.h5" 2>&1 | sed 's/^[^:]*: //')
b=$("$PIPE" eval "$TMP/changed.h5" 2>&1 | sed 's/^[^:]*: //')
echo "$b" | grep -q "test accuracy" || r="$r eval: $b"
[ "$a" != "$b" ] || r="$r eval unchanged: $b"
"$PIPE" resume "$TMP/changed.h5" --out "$TMP/res" > "$TMP/res.log" 2>&1 && [ -f "$TMP/res/stage-02.h5" ] ||
    r="$r resume: $(tail -n 1 "$TMP/res.log")"
check "a module changed in PyTorch and saved: revive evaluates it ($b) and resumes from it" "$r"

# Files load() cannot use: one exception naming the file and the way out.
"$PIPE" export --seed-only "$T/stage-00.h5" "$TMP/seed.h5" > /dev/null 2>&1
r=$("$PY" -c "$RT
for p, want in (('$TMP/seed.h5', 'seed-only'), ('$TMP/t.ini', 'cannot open as HDF5')):
    try:
        revive_torch.load(p); print(p, 'loaded')
    except revive_torch.CheckpointError as e:
        if p not in str(e) or want not in str(e): print(e)
" 2>&1)
check "load refuses a seed-only export and a non-HDF5 file, naming them" "$r"

# An ImageNet ResNet-18 (ImageNet stem, 3 channels): its state_dict has torchvision's names and
# loads strictly into torchvision.models.resnet18, which then computes what load()'s module does.
cat > "$TMP/r18.ini" <<INI
[run]
name = r18
out_dir = $TMP/ck
[data]
dataset = synthetic
synthetic_train = 32
synthetic_test = 16
synthetic_size = 32
synthetic_channels = 3
[model]
arch = imagenet_resnet
depth = 18
[train]
epochs = 1
batch_size = 16
INI
"$PIPE" run "$TMP/r18.ini" > "$TMP/r18.log" 2>&1 || not_ok "ImageNet ResNet-18 run: $(tail -n 1 "$TMP/r18.log")"
r=$("$PY" -c "$RT
import torchvision
sd = revive_torch.state_dict('$TMP/ck/r18/stage-00.h5')
tv = torchvision.models.resnet18(num_classes=4)
tv.load_state_dict(sd, strict=True)
m = revive_torch.load('$TMP/ck/r18/stage-00.h5')
tv.eval()
x = torch.rand(3, 3, 32, 32)
with torch.no_grad():
    a = m(x); b = tv((x - m.input_mean.view(1, -1, 1, 1)) / m.input_std.view(1, -1, 1, 1))
if not torch.equal(a, b): print('torchvision computes', b, 'load() computes', a)
" 2>&1)
check "ImageNet ResNet-18: state_dict loads strictly into torchvision.models.resnet18" "$r"

# PyTorch's test accuracy and loss on real images equal pipeline eval's (same images, the
# stored normalization applied by the module itself).
FM=/usr/share/datasets/fashion-mnist
if [ -f "$FM/t10k-images-idx3-ubyte.gz" ]; then
    cat > "$TMP/fm.ini" <<INI
[run]
name = fm
out_dir = $TMP/ck
[data]
dataset = fashion_mnist
train_limit = 512
test_limit = 500
[model]
depth = 8
[train]
epochs = 1
batch_size = 64
INI
    # eval_matches NAME N DESCRIPTION [BEFORE] [AFTER]: pipeline eval of $TMP/ck/NAME/stage-00.h5
    # and revive_torch.load's module on the first N test images give the same accuracy, image
    # count and loss. Python BEFORE runs once the module m is loaded, AFTER once loss is known
    # (checks of their own, printing what is wrong).
    eval_matches() {
        name=$1 n=$2 what=$3 before=${4:-} after=${5:-}
        line=$("$PIPE" eval "$TMP/ck/$name/stage-00.h5" 2>&1)
        revive=$(echo "$line" | sed 's/.*accuracy \([0-9.]*\)% (\([0-9]*\) images), loss \([0-9.]*\).*/\1 \2 \3/')
        torch=$("$PY" -c "$RT
import gzip
x = np.frombuffer(gzip.open('$FM/t10k-images-idx3-ubyte.gz').read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:$n]
y = np.frombuffer(gzip.open('$FM/t10k-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)[:$n]
m = revive_torch.load('$TMP/ck/$name/stage-00.h5')
$before
with torch.no_grad():
    logits = m(torch.from_numpy(x.astype(np.float32) / 255))
loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y.astype(np.int64))).item()
print(f'{100 * (logits.argmax(1).numpy() == y).mean():.2f} {len(y)} {loss:.4f}')
$after" 2>&1)
        r=""
        [ -n "$revive" ] && [ "$revive" = "$torch" ] || r="pipeline eval: $line; torch: $torch"
        check "${what:+$what: }PyTorch accuracy, image count and loss = pipeline eval's ($torch)" "$r"
    }
    "$PIPE" run "$TMP/fm.ini" > "$TMP/fm.log" 2>&1 || not_ok "fashion-mnist run: $(tail -n 1 "$TMP/fm.log")"
    # The module does use its normalization: rounded as a reader might guess it, the loss moves
    # (on this small model by less than the 4 digits eval prints; on the issue's ResNet-20, by points).
    eval_matches fm 500 "" "" "m.input_mean.fill_(0.286); m.input_std.fill_(0.353)
with torch.no_grad():
    rounded = torch.nn.functional.cross_entropy(m(torch.from_numpy(x.astype(np.float32) / 255)),
                                                torch.from_numpy(y.astype(np.int64))).item()
if rounded == loss: print('rounded normalization gives the same loss')"
    # The same for the other families on 64 training and 100 test images: family_matches NAME
    # MODEL_LINES DESCRIPTION [PYTHON]: MODEL_LINES replace the [model] depth line of fm.ini; PYTHON
    # runs after the module m is loaded (checks of its own, printing what is wrong).
    family_matches() {
        name=$1 model=$2 what=$3 extra=${4:-}
        sed -e "s/^depth = 8$/$model/" -e "s/^name = fm$/name = $name/" \
            -e 's/^train_limit = 512$/train_limit = 64/' -e 's/^test_limit = 500$/test_limit = 100/' \
            "$TMP/fm.ini" > "$TMP/$name.ini"
        "$PIPE" run "$TMP/$name.ini" > "$TMP/$name.log" 2>&1 || not_ok "fashion-mnist $what run: $(tail -n 1 "$TMP/$name.log")"
        eval_matches "$name" 100 "$what" "$extra"
    }
    family_matches fm18 'arch = imagenet_resnet\ndepth = 18\nstem = cifar' "ImageNet ResNet-18 (CIFAR stem)"
    # VGG-11 with BN (the pool head on 28x28 inputs), its module class and torchvision's names.
    family_matches fmvgg 'arch = vgg\ndepth = 11' "VGG-11-BN" "assert isinstance(m, revive_torch.VGG)
sd = revive_torch.state_dict('$TMP/ck/fmvgg/stage-00.h5')
want = {'features.0.weight', 'features.1.running_var', 'classifier.0.weight', 'classifier.0.bias'}
if want - set(sd): print('state_dict lacks', want - set(sd))"
    # Mixer-pico (model.arch = mixer): its module, and save gives back every parameter bit for bit.
    family_matches fmmixer 'arch = mixer' "MLP-Mixer-pico" "assert isinstance(m, revive_torch.Mixer)
revive_torch.save(m, '$TMP/mixer-back.h5', like='$TMP/ck/fmmixer/stage-00.h5')
a, b = h5py.File('$TMP/ck/fmmixer/stage-00.h5', 'r')['params'], h5py.File('$TMP/mixer-back.h5', 'r')['params']
bad = [k for k in a if a[k].shape != b[k].shape or (a[k][()] != b[k][()]).any()]
if bad: print('save changed', bad)"
else
    ok "# SKIP Fashion-MNIST not installed: accuracy against pipeline eval not tested"
fi

finish torch
