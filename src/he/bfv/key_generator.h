// BFV key generation: the scheme-neutral rlwe::KeyGenerator (lc_he_secret), under its BFV name.
#pragma once

#include "he/bfv/context.h"
#include "he/bfv/keys.h"
#include "he/rlwe/key_generator.h"

namespace leukocrypt::bfv {

using rlwe::KeyGenerator;

}  // namespace leukocrypt::bfv
