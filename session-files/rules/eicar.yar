/*
 * Zion's default rules: the EICAR anti-virus test file.
 *
 * EICAR is a harmless 68-byte string that every scanner agrees to report, so
 * that users and tests can check a scanner works without handling malware.
 * Written for Zion; same licence as Zion (GPL-3.0-or-later).
 */

rule EICAR_Test_String : test_file
{
    meta:
        author = "Zion project"
        description = "Contains the EICAR anti-virus test string (harmless; used to check that scanning works)"
        reference = "https://www.eicar.org/download-anti-malware-testfile/"
        severity = "test"

    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

    condition:
        $eicar
}

rule EICAR_Test_File : test_file
{
    meta:
        author = "Zion project"
        description = "Is the EICAR anti-virus test file itself: the string at offset 0, at most 128 bytes"
        reference = "https://www.eicar.org/download-anti-malware-testfile/"
        severity = "test"

    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

    condition:
        $eicar at 0 and filesize <= 128
}
