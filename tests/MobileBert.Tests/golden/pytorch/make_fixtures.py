# Writes the PyTorch-checkpoint fixtures of PyTorchCheckpointTests with torch.save (Debian's python3-torch 1.13):
#   /usr/bin/python3 make_fixtures.py ../model/bert_tiny/weights.safetensors ../model/tiny/weights.safetensors
# - bert_tiny_zip.bin:    the golden bert_tiny weights as HF writes pytorch_model.bin (zip format, torch >= 1.6): an
#                         OrderedDict state dict with `_metadata`, the tied MLM decoder sharing the word embeddings'
#                         storage, and the int64 `bert.embeddings.position_ids` buffer.
# - bert_tiny_legacy.bin: the same dict in the legacy format (torch < 1.6, `_use_new_zipfile_serialization=False`).
# - views.bin:            tensors that are views (transposed, offset into a shared storage), fp16, bf16 and int64;
#   views_legacy.bin:     the same in the legacy format.
# - mobilebert_tiny_fp16.bin: the golden tiny MobileBERT weights in float16 (zip format), as half-precision uploads are.
import collections, json, struct, sys
import torch

def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = collections.OrderedDict()
    for name, e in sorted(header.items()):
        if name == '__metadata__': continue
        assert e['dtype'] == 'F32', name
        a, b = e['data_offsets']
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(e['shape']).clone()
    return out

sd = read_safetensors(sys.argv[1])
sd['cls.predictions.decoder.weight'] = sd['bert.embeddings.word_embeddings.weight']   # tied: one storage, two names
sd['bert.embeddings.position_ids'] = torch.arange(64).expand((1, -1))                  # a registered buffer, as HF saves it
sd._metadata = collections.OrderedDict([('', {'version': 1}), ('bert', {'version': 1})])
torch.save(sd, 'bert_tiny_zip.bin')
torch.save(sd, 'bert_tiny_legacy.bin', _use_new_zipfile_serialization=False)

mobile = read_safetensors(sys.argv[2])
torch.save(collections.OrderedDict((k, v.half()) for k, v in mobile.items()), 'mobilebert_tiny_fp16.bin')

g = torch.Generator().manual_seed(7)
base = torch.randn(6, 10, generator=g)
views = collections.OrderedDict()
views['transposed'] = base.t()                        # strides (1, 10)
views['rows_2_to_4'] = base[2:5]                      # storage offset 20
views['every_other_column'] = base[:, ::2]            # strides (10, 2)
views['half'] = torch.randn(3, 5, generator=g).half()
views['bfloat16'] = torch.randn(4, 3, generator=g).bfloat16()
views['int64'] = torch.arange(12).reshape(3, 4)
views['scalar'] = torch.tensor(2.5)
torch.save(views, 'views.bin')
torch.save(views, 'views_legacy.bin', _use_new_zipfile_serialization=False)
# The expected values, contiguous float32 (int64 as float), for the test to compare against.
with open('views_expected.json', 'w') as f:
    json.dump({k: {'shape': list(v.shape), 'values': v.float().reshape(-1).tolist()} for k, v in views.items()}, f)
