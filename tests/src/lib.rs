//! Whole-flow tests live in `flows/`: one integration-test binary whose scenarios run over the
//! embedded adapters and over an AWS emulator (`bash infra/test.sh` starts one).
