# CPSL on the toy MIC(DAFormer) spine: CPSL on the toy DAFormer spine
# (./cpsl-daformer_deeplabv3plus_efficientnet-lite0_toy-128x64.py) plus masked image
# consistency on the rectified labels. The pipeline's optional stage `cpsl_mic`.
_base_ = ['./cpsl-daformer_deeplabv3plus_efficientnet-lite0_toy-128x64.py']
model = dict(**_base_.toy_masked_consistency)
