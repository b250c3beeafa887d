#include "he/bfv/evaluator.h"
namespace leukocrypt::bfv {
Evaluator::Evaluator(ContextPtr ctx) : ctx_(std::move(ctx)) {}
}
