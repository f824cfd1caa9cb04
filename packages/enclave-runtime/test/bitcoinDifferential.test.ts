/** Differential, first half: 100 of the 200 random PSBTs (see bitcoinDifferentialRunner.ts). */
import { differential, SEED } from './bitcoinDifferentialRunner.js'

differential(SEED, 100)
