# Empty dependencies file for pipc.
# This may be replaced when dependencies are built.
