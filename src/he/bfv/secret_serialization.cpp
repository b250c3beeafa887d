// secret_serialization: see secret_serialization.h (in progress)
