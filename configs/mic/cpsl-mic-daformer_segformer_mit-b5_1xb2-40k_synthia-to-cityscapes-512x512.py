# CPSL on the MIC(DAFormer) spine, SYNTHIA -> Cityscapes (16 classes): CPSL on DAFormer
# (../daformer/cpsl-daformer_segformer_mit-b5_1xb2-40k_synthia-to-cityscapes-512x512.py)
# plus MIC's masked image consistency on the rectified labels.
#   python tools/train.py THIS_CONFIG
_base_ = [
    '../daformer/cpsl-daformer_segformer_mit-b5_1xb2-40k_synthia-to-cityscapes-512x512.py'
]
model = dict(masked_consistency=_base_.mic.masked_consistency)
