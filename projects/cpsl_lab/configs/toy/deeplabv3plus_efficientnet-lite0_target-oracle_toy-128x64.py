# Target oracle of the pretrained toy family: the warm-up's network and schedule trained
# on target train labels (an upper bound, never part of the adaptation).
_base_ = ['./deeplabv3plus_efficientnet-lite0_source-only_toy-128x64.py']
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(
            img_path='target/images/train',
            seg_map_path='target/labels/train')))
