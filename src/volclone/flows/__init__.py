"""The clone-volumes flow (OpenStack TaskFlow), its engine runner and its progress reader."""
