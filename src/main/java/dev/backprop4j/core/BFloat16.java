package dev.backprop4j.core;

/**
 * bfloat16, the upper 16 bits of a float32 (sign, 8 exponent bits, 7 mantissa bits), as bit patterns in a short:
 * conversion from float32 rounds to nearest, ties to even (as PyTorch's {@code c10::BFloat16} and CUDA's
 * {@code __float2bfloat16_rn}); a NaN stays a (quiet) NaN, infinities and signed zeros stay; back to float32 is exact.
 */
public final class BFloat16 {
    private BFloat16() {
    }

    /** The bfloat16 nearest to {@code f} (ties to even). */
    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) { // NaN: keep the sign, force a quiet NaN
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /** The float32 value of bfloat16 bits {@code h} (exact). */
    public static float toFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    /** {@code f} rounded to bfloat16 and back: the float32 a bfloat16 tensor would hold. */
    public static float round(float f) {
        return toFloat(fromFloat(f));
    }
}
