/** dtool's version, printed by `dtool --version`. */
export const VERSION = "0.1.0";
