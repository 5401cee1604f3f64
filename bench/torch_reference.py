"""The same training work as LabelLoop's benchmark, in PyTorch on the CPU, for the ratios in
`npm run bench`. Needs Debian's python3-torch and python3-torchvision (run with /usr/bin/python3).
MobileNetV2 is built with random weights: nothing is downloaded, and speed does not depend on them.
Prints one JSON object."""
import json
import os
import sys
import time

import torch
import torchvision
from PIL import Image

torch.set_num_threads(2)
torch.manual_seed(0)


def load(path, size):
    image = Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR)
    return torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).view(size, size, 3).permute(2, 0, 1).float() / 255


def files_of(root):
    out = []
    for label, name in enumerate(sorted(d for d in os.listdir(root) if not d.startswith("."))):
        for file in sorted(os.listdir(os.path.join(root, name))):
            out.append((os.path.join(root, name, file), label))
    return out


def embed(model_part, files, size, batch=16):
    """Decode + resize + forward, like LabelLoop's embedding phase."""
    outputs = []
    with torch.no_grad():
        for i in range(0, len(files), batch):
            x = torch.stack([load(f, size) for f, _ in files[i:i + batch]])
            outputs.append(model_part(x))
    return torch.cat(outputs)


def frozen(module, size):
    """PyTorch's fastest CPU inference here: TorchScript frozen and optimised for inference (folded
    BatchNorm, fused convolutions, oneDNN layouts); 3.3x eager's speed on this project's 2-core AMD
    machines (MobileNetV2, batch 16, 2026-12-06)."""
    with torch.no_grad():
        optimised = torch.jit.optimize_for_inference(torch.jit.script(module.eval()))
        optimised(torch.rand(16, 3, size, size))  # the first call specialises the graph (batch 16, as timed)
    return optimised


def click_to_model(model_part, files, size):
    """Embed every image, then 20 epochs of a dense head with Adam: (embed images/s, seconds)."""
    embed(model_part, files[:16], size)  # warm-up, untimed: allocator, oneDNN primitives, file cache
    started = time.perf_counter()
    features = embed(model_part, files, size)
    embed_seconds = time.perf_counter() - started
    labels = torch.tensor([label for _, label in files])
    head = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(features.shape[1], int(labels.max()) + 1))
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    for _ in range(20):
        order = torch.randperm(len(files))
        for i in range(0, len(files), 32):
            rows = order[i:i + 32]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(head(features[rows]), labels[rows])
            loss.backward()
            optimizer.step()
    return len(files) / embed_seconds, time.perf_counter() - started


def embed_only(project, size):
    """`embed <project> <size> [cut]`: images/s of decode + MobileNetV2 to pooled features, or to the
    block_15 output (the stage-2 cut) when `cut` is given; eager, then frozen."""
    net = torchvision.models.mobilenet_v2(weights=None).eval()
    part = net.features[:17] if cut_requested() else torch.nn.Sequential(net.features, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    files = files_of(project)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for key, model in (("imagesPerSecond", part), ("imagesPerSecondFrozen", frozen(part, size))):
        embed(model, files[:16], size)  # warm-up, untimed
        started = time.perf_counter()
        embed(model, files, size)
        result[key] = len(files) / (time.perf_counter() - started)
    print(json.dumps(result))


def cut_requested():
    return len(sys.argv) > 4 and sys.argv[4] == "cut"


def one_epoch(model, optimizer, x, y, batch=32):
    """One pass over (x, y) in shuffled minibatches of cross-entropy; returns the rows seen."""
    order = torch.randperm(len(x))
    for i in range(0, len(x), batch):
        rows = order[i:i + batch]
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[rows]), y[rows]).backward()
        optimizer.step()
    return len(x)


def small_cnn_net(size, classes):
    """The classic Keras tutorial's small CNN, as LabelLoop builds it (training/smallCnn.ts)."""
    block = lambda i, o: [torch.nn.Conv2d(i, o, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
    return torch.nn.Sequential(*block(3, 32), *block(32, 64), *block(64, 128), torch.nn.Dropout(0.25), torch.nn.Flatten(),
                               torch.nn.Linear(128 * (size // 8) ** 2, 128), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(128, classes))


def cnn_speed(size, images):
    """`cnnspeed <size> <images>`: training images/s of the small CNN on random data, batch 32, Adam."""
    net = small_cnn_net(size, 10)
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    x, y = torch.rand(images, 3, size, size), torch.randint(0, 10, (images,))
    net.train()
    one_epoch(net, optimizer, x, y)
    started = time.perf_counter()
    seen = one_epoch(net, optimizer, x, y) + one_epoch(net, optimizer, x, y)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "imagesPerSecond": seen / (time.perf_counter() - started)}))


def small_cnn(split_file, size):
    """`cnn <split.json> <size>`: the classic Keras tutorial's small CNN from scratch (Conv-Pool
    stacks of 32/64/128, dropout, dense), Adam 1e-3 with exponential decay, early stopping on val
    (patience 8, best weights kept), on the split LabelLoop chose; accuracy on its test images."""
    with open(split_file) as f:
        rows = json.load(f)
    classes = sorted({r["label"] for r in rows})
    def tensors(split):
        chosen = [r for r in rows if r["split"] == split]
        return torch.stack([load(r["file"], size) for r in chosen]), torch.tensor([classes.index(r["label"]) for r in chosen])
    started = time.perf_counter()
    (xt, yt), (xv, yv), (xs, ys) = tensors("train"), tensors("val"), tensors("test")
    torch.manual_seed(0)
    net = small_cnn_net(size, len(classes))
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.96)
    best, best_state, waited, epochs = -1.0, None, 0, 0
    for epoch in range(60):
        net.train()
        one_epoch(net, optimizer, xt, yt)
        schedule.step()
        epochs = epoch + 1
        net.eval()
        with torch.no_grad():
            val = (net(xv).argmax(1) == yv).float().mean().item()
        if val > best:
            best, best_state, waited = val, {k: v.clone() for k, v in net.state_dict().items()}, 0
        else:
            waited += 1
            if waited >= 8:
                break
    net.load_state_dict(best_state)
    net.eval()
    with torch.no_grad():
        correct = int((net(xs).argmax(1) == ys).sum().item())
    print(json.dumps({"correct": correct, "images": len(ys), "epochs": epochs, "seconds": time.perf_counter() - started, "torch": torch.__version__}))


def main():
    if sys.argv[1] == "embed":
        return embed_only(sys.argv[2], int(sys.argv[3]))
    if sys.argv[1] == "cnnspeed":
        return cnn_speed(int(sys.argv[2]), int(sys.argv[3]))
    if sys.argv[1] == "cnn":
        return small_cnn(sys.argv[2], int(sys.argv[3]))
    project, finetune_project, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    net = torchvision.models.mobilenet_v2(weights=None).eval()
    pooled = torch.nn.Sequential(net.features, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    result = {"torch": torch.__version__, "threads": torch.get_num_threads()}

    # Click to first model, eager and frozen (the model is built before the clock starts, as ours is
    # loaded before: what is timed is the work on the images).
    files = files_of(project)
    result["images"] = len(files)
    result["embedImagesPerSecond"], result["clickToModelSeconds"] = click_to_model(pooled, files, size)
    result["embedImagesPerSecondFrozen"], result["clickToModelSecondsFrozen"] = click_to_model(frozen(pooled, size), files, size)

    # Fine-tuning block_16 + Conv_1 on cached block_15 outputs, BatchNorm in eval mode, SGD + momentum.
    ft_files = files_of(finetune_project)
    bottom, top = net.features[:17], torch.nn.Sequential(net.features[17:], torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(1280, 2))
    cut = embed(bottom, ft_files, size)
    ft_labels = torch.tensor([label for _, label in ft_files])
    top.eval()  # BatchNorm in inference mode, as LabelLoop does
    for p in top.parameters():
        p.requires_grad = True
    for m in top.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            for p in m.parameters():
                p.requires_grad = False
    optimizer = torch.optim.SGD([p for p in top.parameters() if p.requires_grad], lr=1e-4, momentum=0.9)
    started = time.perf_counter()
    seen = 0
    for _ in range(2):
        seen += one_epoch(top, optimizer, cut, ft_labels)
    result["fineTuneImagesPerSecond"] = seen / (time.perf_counter() - started)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
