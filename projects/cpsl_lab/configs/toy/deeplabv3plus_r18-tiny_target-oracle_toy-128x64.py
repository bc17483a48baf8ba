# Target oracle on the toy domains: trained on target train labels (an upper bound,
# never part of the adaptation), evaluated on target val. Twice the warm-up's 600
# iterations, the poly decay stretched with them, as the pretrained family's oracle:
# on the development tree (data/toy_dev_v3s, seeds 0 / 1) 600 iterations gave 53.95 /
# 57.17 mIoU with fence 13.9 / 22.6 and pole 13.0 / 29.2, 1,200 gave 67.82 / 68.19 with
# every class >= 43 (benchmarks/README.md, "From-scratch family (r18-tiny), generator v3").
_base_ = ['./deeplabv3plus_r18-tiny_source-only_toy-128x64.py']
max_iters = 1200
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(
            img_path='target/images/train',
            seg_map_path='target/labels/train')))
param_scheduler = [dict(_base_.param_scheduler[0], end=max_iters)]
train_cfg = dict(max_iters=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
