"""Running the playbook: the campaign runner, the static site and the command line."""
