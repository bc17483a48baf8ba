"""Building blocks shared by the segmentors: EMA, CutMix, feature capture, BN
freezing and the checked stage-checkpoint hand-off."""
