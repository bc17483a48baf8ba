# CPSL on the MIC(DAFormer) spine: CPSL on DAFormer
# (../daformer/cpsl-daformer_segformer_mit-b5_1xb2-40k_gta5-to-cityscapes-512x512.py)
# plus MIC's masked image consistency on the rectified labels (32x32 blocks, ratio
# 0.7, weight 1). Same inputs (warm-up, P_ST, prototypes) as CPSL on DAFormer.
#   python tools/train.py THIS_CONFIG
_base_ = [
    '../daformer/cpsl-daformer_segformer_mit-b5_1xb2-40k_gta5-to-cityscapes-512x512.py'
]
model = dict(masked_consistency=_base_.mic.masked_consistency)
