# IMAPSieve (contrib/dovecot/learn.conf): a message moved into Junk.
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

if environment :matches "imap.user" "*" {
  set "username" "${1}";
}
pipe :copy "postern-learn" ["spam", "${username}"];
