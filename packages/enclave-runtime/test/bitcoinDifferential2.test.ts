/** Differential, second half: 100 of the 200 random PSBTs, another seed (see bitcoinDifferentialRunner.ts). */
import { differential, SEED } from './bitcoinDifferentialRunner.js'

differential(SEED + 1, 100)
