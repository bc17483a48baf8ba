# The MIC(DAFormer) spine on the toy's pretrained family: the toy DAFormer spine
# (./daformer_deeplabv3plus_efficientnet-lite0_toy-128x64.py) plus masked image
# consistency (16-pixel blocks, ratio 0.7, weight 1; ../_base_/uda/toy_spine.py says
# why 16). The pipeline's optional stage `mic`.
_base_ = ['./daformer_deeplabv3plus_efficientnet-lite0_toy-128x64.py']
model = dict(**_base_.toy_masked_consistency)
