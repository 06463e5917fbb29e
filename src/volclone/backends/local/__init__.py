"""The embedded backend: qcow2 layers in a local pool, served by one qemu-storage-daemon."""
