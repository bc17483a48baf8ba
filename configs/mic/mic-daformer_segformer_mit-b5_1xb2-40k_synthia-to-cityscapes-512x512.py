# MIC(DAFormer) on SYNTHIA -> Cityscapes (16 classes): the DAFormer SYNTHIA recipe plus
# masked image consistency (32x32 blocks, ratio 0.7, weight 1), as
# ./mic-daformer_segformer_mit-b5_1xb2-40k_gta5-to-cityscapes-512x512.py.
#   python tools/train.py THIS_CONFIG
_base_ = [
    '../daformer/daformer_segformer_mit-b5_1xb2-40k_synthia-to-cityscapes-512x512.py'
]
model = dict(masked_consistency=_base_.mic.masked_consistency)
