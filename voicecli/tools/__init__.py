"""Tools the model may call: declarations for the setup and the code that runs them."""
