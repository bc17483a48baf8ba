# Target oracle on the toy domains: trained on target train labels (an upper bound,
# never part of the adaptation), evaluated on target val.
_base_ = ['./deeplabv3plus_r18-tiny_source-only_toy-128x64.py']
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(
            img_path='target/images/train',
            seg_map_path='target/labels/train')))
