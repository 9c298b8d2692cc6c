"""Data layer: dataset layouts -> one sorted sample table, the train/held-out split, augmentation."""
