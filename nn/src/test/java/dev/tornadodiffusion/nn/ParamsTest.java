package dev.tornadodiffusion.nn;

import dev.tornadodiffusion.tensor.Backends;
import dev.tornadodiffusion.tensor.Tensor;
import dev.tornadodiffusion.weights.WeightFormatException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ParamsTest {

    @Test
    void missingKeyIsAnErrorNamingIt() {
        Params p = new Params(new MapStateDict(), Backends.cpu());
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> new Linear(p.child("proj"), 3, 2, true));
        assertTrue(e.getMessage().contains("'proj.weight'"), e.getMessage());
    }

    @Test
    void generatorMakesMissingKeysAtTheAskedShape() {
        MapStateDict weights = new MapStateDict();
        Tensor stored = Tensor.zeros(2);
        weights.put("proj.bias", stored);
        Params p = new Params(weights, Backends.cpu(), (key, shape) -> {
            Tensor t = Tensor.zeros(shape);
            weights.put(key, t);
            return t;
        });
        assertFalse(p.child("proj").has("weight"));
        Linear proj = new Linear(p.child("proj"), 3, 2, true);
        assertArrayEquals(new int[]{2, 3}, proj.weight.shape());
        assertSame(stored, proj.bias, "present keys are used as stored");
        assertTrue(p.child("proj").has("weight"));
        p.checkAllUsed();
    }
}
