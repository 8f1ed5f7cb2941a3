"""The papers' figures and the pictures of a run, one module per figure.

Evaluation: `cmc` (CMC curves), `ranked_lists` (a few queries and their top-k gallery images).
ICCV 2017 Fig. 8: `channel_statistics` (per-channel activation statistics of a model) and
`domain_nodes` (domain-specific node proportions per layer: table, CSV, plot). IJCV 2020 Fig.
14: `gates` (modality gate weights). Base-derivative Fig. 8-9: `derivatives` (V, D_V, I, D_I
images). TS-GAN: `translations` (the translation grid, also written to TensorBoard every
epoch). Data: `synthetic_grid` (a labelled grid of a data set's images).

What they share: `canvas` (the one module that imports matplotlib), `tables` (the printed
tables), `pixels` (normalised images back to uint8) and `identities` (which ids a picture
shows). The tools in tools/ are thin command-line programs around these modules. Importing
this package imports neither TensorFlow nor matplotlib; each module imports what it needs.
"""
