"""Model training on window features (no Django): the failure classifier (`classifier`) and the
remaining-useful-life regressor with a conformal interval (`rul`). Both split by whole machine, so
held-out metrics are measured on machines the model never saw."""
