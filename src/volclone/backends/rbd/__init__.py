"""The distributed backend: thin RBD images in a Ceph pool, group snapshots for consistency."""
