# MIC(DAFormer) (Hoyer et al., CVPR 2023): the DAFormer recipe
# (../daformer/daformer_segformer_mit-b5_1xb2-40k_gta5-to-cityscapes-512x512.py) plus
# masked image consistency: the student on the colour-augmented target crop with 70 %
# of its 32x32 blocks hidden learns the teacher's quality-weighted pseudo labels, at
# weight 1. MIC's Table 1 reports this combination on GTA5 -> Cityscapes at 512x512
# crops (MIC(HRDA), 75.9 mIoU, is another network).
#   python tools/train.py THIS_CONFIG
_base_ = ['../daformer/daformer_segformer_mit-b5_1xb2-40k_gta5-to-cityscapes-512x512.py']
model = dict(masked_consistency=_base_.mic.masked_consistency)
