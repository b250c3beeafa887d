// key_generator: see key_generator.h (in progress)
